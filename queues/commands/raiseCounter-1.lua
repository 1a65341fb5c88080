--[[
  Raises a counter to at least a value, never lowering it: a restore sets the
  node sequence and each queue's job id counter past every id it writes, and
  leaves a counter already past them as it is.

  KEYS[1] the counter   ARGV[1] the least value it may have

  Returns 1.
]]
local v = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if v < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
return 1
