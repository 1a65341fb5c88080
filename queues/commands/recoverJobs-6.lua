--[[
  Hands back the active jobs of a host found dead, at once, the way BullMQ's
  stalled check would once their locks expired: BullMQ only learns a worker died
  from an expired lock (lockDuration, 30 s by default) and a later stalled check,
  while our health monitor knows the moment the host's connection closes.

  A job is the dead host's when it is in the active list and its `pb` (BullMQ's
  "processed by", the Worker name, which is the host id) names that host. The
  check and the hand-back are one step, so a job another host has taken since is
  never touched. The lock is deleted, so a host that was not dead after all (a
  dropped connection) is refused by BullMQ when it tries to finish: one finish.
  As in BullMQ, the stall is counted (`stc`); beyond maxStalledCount the job is
  marked for failure (`defa`) and fails when next taken, with BullMQ's reason.

  KEYS[1] active   KEYS[2] wait   KEYS[3] stalled (set)
  KEYS[4] meta     KEYS[5] marker KEYS[6] events
  ARGV[1] job key prefix (`<prefix>:<queue>:`)   ARGV[2] dead host id
  ARGV[3] maxStalledCount

  Returns the ids handed back.
]]
local rcall = redis.call
local prefix, host, maxStalled = ARGV[1], ARGV[2], tonumber(ARGV[3])
local recovered = {}
for _, id in ipairs(rcall('LRANGE', KEYS[1], 0, -1)) do
  local jobKey = prefix .. id
  if rcall('HGET', jobKey, 'pb') == host then
    rcall('LREM', KEYS[1], 1, id)
    rcall('DEL', jobKey .. ':lock')
    rcall('SREM', KEYS[3], id)
    if rcall('HINCRBY', jobKey, 'stc', 1) > maxStalled then
      rcall('HSET', jobKey, 'defa', 'job stalled more than allowable limit')
    end
    -- Next to run (BullMQ takes from the right), as its stalled check does.
    rcall('RPUSH', KEYS[2], id)
    rcall('XADD', KEYS[6], '*', 'event', 'stalled', 'jobId', id)
    rcall('XADD', KEYS[6], '*', 'event', 'waiting', 'jobId', id, 'prev', 'active')
    recovered[#recovered + 1] = id
  end
end
if #recovered > 0 then
  local meta = rcall('HMGET', KEYS[4], 'paused', 'concurrency')
  local maxed = meta[2] and rcall('LLEN', KEYS[1]) >= tonumber(meta[2])
  if not meta[1] and not maxed then rcall('ZADD', KEYS[5], 0, '0') end
end
return recovered
