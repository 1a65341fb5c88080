--[[
  Cancels a task that is running: in one step it checks that the task is
  active (not completed, not failed) and takes it away from its worker. The
  job leaves the active list, its lock and hash are deleted and a tombstone
  (wasRunning) takes its place. BullMQ's moveToFinished needs the job's hash
  and its lock, so a finish the worker sends after this is refused, and a
  finish recorded before this makes this answer "finished": never both.

  KEYS[1] job hash   KEYS[2] active (list)
  KEYS[3] completed  KEYS[4] failed (sorted sets)
  KEYS[5] events stream
  KEYS[6] cancelled hash (taskId -> tombstone JSON)
  KEYS[7] job lock   KEYS[8] job logs   KEYS[9] stalled (set)
  ARGV[1] job id   ARGV[2] now (ms)   ARGV[3] node id
  ARGV[4] '1': a replica of a replicated task may be cancelled (its parent is
          cancelled first, cancelReplicated-16.lua); otherwise it is refused

  Returns { 1, host, tombstone }   cancelled (host: the worker name BullMQ recorded, '' if none)
          { 2, tombstone }         was already cancelled
          { 0, 'completed' | 'failed' }  finished: nothing written
          { 0, 'not-active' }      waiting or delayed (cancelTask-9.lua's case): nothing written
          { 0, 'replica' }         a replica, alone: nothing written (its task would wait for it forever)
          { -1 }                   no such task
]]
local rcall = redis.call
local id = ARGV[1]
local tomb = rcall('HGET', KEYS[6], id)
if tomb then return { 2, tomb } end
if rcall('EXISTS', KEYS[1]) == 0 then return { -1 } end
if rcall('ZSCORE', KEYS[3], id) then return { 0, 'completed' } end
if rcall('ZSCORE', KEYS[4], id) then return { 0, 'failed' } end
if not rcall('LPOS', KEYS[2], id) then return { 0, 'not-active' } end
local job = rcall('HMGET', KEYS[1], 'name', 'timestamp', 'atm', 'processedOn', 'pb', 'parentKey', 'sqReplicaOf', 'data')
if ARGV[4] ~= '1' then
  -- A replica: a flow's child (parentKey), marked as one (sqReplicaOf), or carrying
  -- `replica` in its envelope as the agent host reads it (src/agents/nodeRunner.ts).
  local replica = job[6] or job[7]
  if not replica and job[8] then
    local ok, d = pcall(cjson.decode, job[8])
    replica = ok and type(d) == 'table' and type(d.replica) == 'table'
  end
  if replica then return { 0, 'replica' } end
end
local host = job[5] or ''
local record = cjson.encode({
  id = id, type = job[1], node = ARGV[3], createdAt = tonumber(job[2]),
  attempts = tonumber(job[3] or '0'), cancelledAt = tonumber(ARGV[2]),
  wasRunning = true, startedAt = tonumber(job[4] or ''), host = host
})
rcall('LREM', KEYS[2], 0, id)
rcall('SREM', KEYS[9], id)
rcall('HSET', KEYS[6], id, record)
rcall('DEL', KEYS[1], KEYS[7], KEYS[8])
rcall('XADD', KEYS[5], '*', 'event', 'removed', 'jobId', id, 'prev', 'active')
return { 1, host, record }
