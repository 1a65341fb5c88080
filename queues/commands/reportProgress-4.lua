--[[
  Records a running task's latest progress, as BullMQ's updateProgress does
  (the job hash's `progress` field, and a `progress` entry in the queue's
  events stream that BullMQ's QueueEvents and swarmq's watchers read), but only
  for the holder of the job's lock: an agent that lost its lock (the task was
  handed back, stalled, or retried elsewhere) can no longer overwrite the
  progress of the attempt that now runs.

  KEYS[1] job hash   KEYS[2] job lock   KEYS[3] events stream   KEYS[4] queue meta
  ARGV[1] job id     ARGV[2] lock token ARGV[3] progress (JSON)

  Returns 0: recorded; -1: no such job; -2: the lock is not this token's.
]]
local rcall = redis.call

if rcall('EXISTS', KEYS[1]) == 0 then return -1 end
if rcall('GET', KEYS[2]) ~= ARGV[2] then return -2 end
rcall('HSET', KEYS[1], 'progress', ARGV[3])
rcall('XADD', KEYS[3], 'MAXLEN', '~', tonumber(rcall('HGET', KEYS[4], 'opts.maxLenEvents') or '10000'), '*', 'event', 'progress', 'jobId', ARGV[1], 'data', ARGV[3])
return 0
