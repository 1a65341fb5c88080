--[[
  Cancels a replicated task's parent job (in the consensus queue) unless its
  vote runs or it has finished, in one step: the job leaves whichever set
  holds it and is deleted with its dependency records, and a tombstone takes
  its place. Its replicas are cancelled after this (src/coordinator/
  cancelReplicated.ts): a replica that finishes meanwhile finds no parent to
  move on (BullMQ's finish updates a parent only through the dependency set
  deleted here), so no vote can start.

  KEYS[1] job hash
  KEYS[2] waiting-children  KEYS[3] delayed  KEYS[4] prioritized
  KEYS[5] completed         KEYS[6] failed (sorted sets)
  KEYS[7] wait  KEYS[8] paused  KEYS[9] active (lists)
  KEYS[10] events stream
  KEYS[11] cancelled replicated tasks (hash taskId -> tombstone JSON)
  KEYS[12] job lock
  KEYS[13] job dependencies (set)   KEYS[14] processed children (hash)
  KEYS[15] failed children (hash)   KEYS[16] job logs
  ARGV[1] job id   ARGV[2] now (ms)   ARGV[3] the consensus queue's name

  Returns { 1, tombstone, replicas }  cancelled; replicas: the replica ids its
                            data named as it was cancelled (JSON array), the
                            caller's to cancel (after a rejection with retry,
                            the latest revision's, rerunReplicas.ts)
          { 2, tombstone }  was already cancelled
          { 0, 'completed' | 'failed' | 'active' }  finished, or its vote runs: nothing written
          { -1 }            no such task
]]
local rcall = redis.call
local id = ARGV[1]
local tomb = rcall('HGET', KEYS[11], id)
if tomb then return { 2, tomb } end
if rcall('EXISTS', KEYS[1]) == 0 then return { -1 } end
if rcall('ZSCORE', KEYS[5], id) then return { 0, 'completed' } end
if rcall('ZSCORE', KEYS[6], id) then return { 0, 'failed' } end
if rcall('EXISTS', KEYS[12]) == 1 or rcall('LPOS', KEYS[9], id) then return { 0, 'active' } end
local job = rcall('HMGET', KEYS[1], 'data', 'timestamp', 'atm')
local ok, data = pcall(cjson.decode, job[1] or '')
local taskType = 'replicated'
local replicas = '[]'
if ok and type(data) == 'table' and type(data.replicated) == 'table' then
  if type(data.replicated.type) == 'string' then taskType = data.replicated.type end
  if type(data.replicated.replicaTasks) == 'table' and #data.replicated.replicaTasks > 0 then replicas = cjson.encode(data.replicated.replicaTasks) end
end
local record = cjson.encode({
  id = id, type = taskType, node = ARGV[3], createdAt = tonumber(job[2]),
  attempts = tonumber(job[3] or '0'), cancelledAt = tonumber(ARGV[2]), wasRunning = false
})
rcall('ZREM', KEYS[2], id)
rcall('ZREM', KEYS[3], id)
rcall('ZREM', KEYS[4], id)
rcall('LREM', KEYS[7], 0, id)
rcall('LREM', KEYS[8], 0, id)
rcall('HSET', KEYS[11], id, record)
rcall('DEL', KEYS[1], KEYS[13], KEYS[14], KEYS[15], KEYS[16])
rcall('XADD', KEYS[10], '*', 'event', 'removed', 'jobId', id, 'prev', 'waiting-children')
return { 1, record, replicas }
