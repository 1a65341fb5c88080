--[[
  A slot group's fence: the highest leader token any script in the group has
  carried. A token below it is a deposed leader's and is refused; a higher one
  raises the fence, so from then on the older leader is refused here.

  fenceKey   the group's fence key (of the group's slot, like every key of the script)
  token      the leader's token, a positive integer as a string

  Returns true when the token is current (the fence is now at it), false when stale.
]]
local function checkFence(fenceKey, token)
  local t, seen = tonumber(token), tonumber(redis.call('GET', fenceKey) or '0')
  if t < seen then return false end
  if t > seen then redis.call('SET', fenceKey, token) end
  return true
end
