--[[
  Cancels a task that has not started: removes it from whichever waiting
  structure holds it and leaves a tombstone, in one step, so a worker can never
  take it between the check and the removal.

  KEYS[1] job hash
  KEYS[2] wait (list)        KEYS[3] paused (list)
  KEYS[4] prioritized (zset) KEYS[5] delayed (zset)
  KEYS[6] events stream
  KEYS[7] cancelled hash (taskId -> tombstone JSON)
  KEYS[8] job lock
  KEYS[9] job logs
  ARGV[1] job id   ARGV[2] now (ms)   ARGV[3] node id

  Returns  1 cancelled
           2 was already cancelled
           0 started or finished (not cancellable)
          -1 no such task
]]
local rcall = redis.call
local id = ARGV[1]
if rcall('EXISTS', KEYS[1]) == 0 then
  if rcall('HEXISTS', KEYS[7], id) == 1 then return 2 end
  return -1
end
if rcall('EXISTS', KEYS[8]) == 1 then return 0 end
local removed = rcall('LREM', KEYS[2], 0, id) + rcall('LREM', KEYS[3], 0, id)
  + rcall('ZREM', KEYS[4], id) + rcall('ZREM', KEYS[5], id)
if removed == 0 then return 0 end
local job = rcall('HMGET', KEYS[1], 'name', 'timestamp', 'atm')
rcall('HSET', KEYS[7], id, cjson.encode({
  id = id, type = job[1], node = ARGV[3], createdAt = tonumber(job[2]),
  attempts = tonumber(job[3] or '0'), cancelledAt = tonumber(ARGV[2])
}))
rcall("DEL", KEYS[1], KEYS[9])
rcall('XADD', KEYS[6], '*', 'event', 'removed', 'jobId', id, 'prev', 'waiting')
return 1
