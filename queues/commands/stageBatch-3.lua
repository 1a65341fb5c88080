--[[
  Stages a batch of tasks in the swarm's slot, all at once: the first step of a
  batch submit on a Redis Cluster, where no one MULTI can reach the node queues
  of several slot groups. Once this has run the batch is acknowledged: its tasks
  are added to their node queues group by group (one MULTI each), and whoever
  finds the batch still here once it is due (a reader of one of its tasks, the
  leading coordinator's sweep) finishes that (src/coordinator/stagedBatch.ts).

  KEYS[1] batches (zset batchId -> due ms)   KEYS[2] the batch's task ids
  KEYS[3] staged tasks (hash taskId -> JSON)
  ARGV[1] batch id   ARGV[2] ms until another may take the fan-out over
  ARGV[3] the task ids, JSON   ARGV[4..] task id, staged task JSON, pairs

  Returns the due time (ms, Redis's clock: every taker compares with the same one).
]]
local rcall = redis.call
local t = rcall('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
-- HSET in slices: unpack of thousands of arguments would overflow Lua's stack.
local i = 4
while i <= #ARGV do
  local last = math.min(i + 199, #ARGV)
  rcall('HSET', KEYS[3], unpack(ARGV, i, last))
  i = last + 1
end
rcall('SET', KEYS[2], ARGV[3])
local due = now + tonumber(ARGV[2])
rcall('ZADD', KEYS[1], due, ARGV[1])
return due
