--[[
  Raises a slot group's fence to a new leader's token (never lowers it), so
  moves carrying an older leader's token are refused there from now on.

  KEYS[1] group fence   ARGV[1] token

  Returns the fence after the call: the token, or a newer one already there.
]]
--- @include "includes/checkFence"
if checkFence(KEYS[1], ARGV[1]) then return tonumber(ARGV[1]) end
return tonumber(redis.call('GET', KEYS[1]))
