--[[
  The leader's quiet round: keeps its published version fresh, but only if the
  version there is still its own, so a version written by anyone else (another
  process with Redis access, a leader it replaced) is published over at once.

  KEYS[1] loads-version   ARGV[1] the version this leader published   ARGV[2] ms to live

  Returns 1 when refreshed, 0 when the version is gone or another's (publish again).
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
