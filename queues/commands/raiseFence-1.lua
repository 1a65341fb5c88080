--[[
  Raises a slot group's fence to a new leader's token (never lowers it), so
  moves carrying an older leader's token are refused there from now on.

  KEYS[1] group fence   ARGV[1] token

  Returns the fence after the call: the token, or a newer one already there.
]]
local seen = tonumber(redis.call('GET', KEYS[1]) or '0')
local token = tonumber(ARGV[1])
if token > seen then
  redis.call('SET', KEYS[1], ARGV[1])
  return token
end
return seen
