--[[
  A task that needs approval, whose agent has just returned its output: takes
  it from its worker and parks it in its queue's delayed set until the
  approval's deadline, with the output beside it in the job hash, in one step
  fenced by the job's lock token (only the holder of the lock can do it, as
  with BullMQ's moveToDelayed, whose steps this follows: lock released, out of
  the active list and the stalled set, into the delayed set with a score BullMQ
  reads as a time, the delay marker moved so idle workers wake at the deadline).
  No attempt is spent. The agent is free from here on.

  A decision (decideApproval-11.lua) takes it out of the delayed set before the
  deadline; otherwise BullMQ promotes it at the deadline like any delayed job,
  and the host that picks it up finds no decision and fails it as timed out.

  The task is also indexed by deadline in its slot's awaiting-approval sorted
  set, for listing (GET /api/approvals), under its node and id; entries a day
  past their deadline are trimmed here, so a cancelled task's entry does not
  stay for ever.

  KEYS[1] job hash   KEYS[2] job lock   KEYS[3] active (list)
  KEYS[4] delayed    KEYS[5] stalled    KEYS[6] events stream
  KEYS[7] meta       KEYS[8] marker     KEYS[9] awaiting-approval index (zset)
  ARGV[1] job id     ARGV[2] lock token ARGV[3] now (ms)
  ARGV[4] deadline (ms)
  ARGV[5] the awaiting record (JSON: output, agent, since, deadline, round)
  ARGV[6] its round (also kept in a field of its own, so a decision can name
          the output it was made on without decoding the record)
  ARGV[7] the index member: `<node> <job id>` (the node, or the consensus queue)

  Returns 0: awaiting; -1: no such job (cancelled); -2: the lock is missing;
          -6: the lock is another's; -3: not in the active list.
  Nothing is written unless it returns 0.
]]
local rcall = redis.call
local id = ARGV[1]
if rcall('EXISTS', KEYS[1]) == 0 then return -1 end
local lock = rcall('GET', KEYS[2])
if not lock then return -2 end
if lock ~= ARGV[2] then return -6 end
if not rcall('LPOS', KEYS[3], id) then return -3 end

local now = tonumber(ARGV[3])
local deadline = tonumber(ARGV[4])
rcall('LREM', KEYS[3], -1, id)
rcall('DEL', KEYS[2])
rcall('SREM', KEYS[5], id)
rcall('HSET', KEYS[1], 'sqAwaiting', ARGV[5], 'sqRound', ARGV[6], 'sqDecision', '', 'delay', math.max(0, deadline - now))

-- BullMQ's delayed score: the time times 0x1000, plus a counter among jobs due in the same millisecond.
local minScore = deadline * 0x1000
local maxScore = (deadline + 1) * 0x1000 - 1
local score = minScore
local last = rcall('ZREVRANGEBYSCORE', KEYS[4], maxScore, minScore, 'WITHSCORES', 'LIMIT', 0, 1)
if last[2] then score = math.min(maxScore, tonumber(last[2]) + 1) end
rcall('ZADD', KEYS[4], score, id)

local maxEvents = tonumber(rcall('HGET', KEYS[7], 'opts.maxLenEvents') or '10000')
rcall('XADD', KEYS[6], 'MAXLEN', '~', maxEvents, '*', 'event', 'awaiting-approval', 'jobId', id, 'deadline', deadline)

-- Idle workers block until the marker's time: the earliest delayed job's.
local first = rcall('ZRANGE', KEYS[4], 0, 0, 'WITHSCORES')
if first[2] then rcall('ZADD', KEYS[8], tonumber(first[2]) / 0x1000, '1') end

rcall('ZADD', KEYS[9], deadline, ARGV[7])
rcall('ZREMRANGEBYSCORE', KEYS[9], '-inf', '(' .. (now - 86400000))
return 0
