--[[
  The first step of recovering a failed agent host, fenced: only the
  coordinator holding the host's partition lease with this token may take the
  host out of the roster of live hosts. A coordinator whose lease lapsed (paused,
  cut off) and was taken over recovers nothing, so a host is recovered once.

  KEYS[1] the host partition's lease (hash: owner, token)   KEYS[2] hosts (zset of heartbeats)
  KEYS[3] host connections   KEYS[4] hosts ready   KEYS[5] failed hosts
  KEYS[6] endpoint silence (its HTTP agents' silent endpoints: the agents go with the host; it writes its own again if it rejoins)
  ARGV[1] host id   ARGV[2] coordinator id   ARGV[3] token   ARGV[4] when it was found failed (ms)

  Returns 1 when isolated, 0 when the caller does not hold the lease with that token.
]]
local rcall = redis.call
local lease = rcall('HMGET', KEYS[1], 'owner', 'token')
if lease[1] ~= ARGV[2] or lease[2] ~= ARGV[3] then return 0 end
rcall('ZREM', KEYS[2], ARGV[1])
rcall('HDEL', KEYS[3], ARGV[1])
rcall('HDEL', KEYS[4], ARGV[1])
rcall('HSET', KEYS[5], ARGV[1], ARGV[4])
rcall('HDEL', KEYS[6], ARGV[1])
return 1
