--[[
  Records a decision on a task's output that awaits approval and sends the task
  back to its queue, in one step: it checks that the task still awaits (its
  awaiting record is there, no decision is, it is in the delayed set and its
  deadline has not passed), so of an approve, a reject and the deadline exactly
  one wins. The deadline's own way out is BullMQ promoting the delayed job:
  once it has left the delayed set, no decision is taken any more.

  The task goes to the head of its wait list (whatever its priority: the
  Worker takes the wait list before prioritized jobs), because the host that
  picks it up has little left to do: complete it with the stored output, fail
  it, or run it again with the reason (a rejection with retry), and a person
  has waited for it already. The delayed set's bookkeeping follows BullMQ's
  promote script: the job's `delay` back to 0, a `waiting` event, the marker
  set so an idle worker wakes. (BullMQ 6 keeps paused queues' jobs in the
  wait list too: the marker alone tells a pause.)

  KEYS[1] job hash    KEYS[2] delayed     KEYS[3] wait (list)
  KEYS[4] meta        KEYS[5] active      KEYS[6] marker
  KEYS[7] events      KEYS[8] awaiting-approval index (zset)
  ARGV[1] job id   ARGV[2] now (ms)   ARGV[3] the decision (JSON)
  ARGV[4] the round of the output decided on (the caller saw that output)
  ARGV[5] the index member (`<node> <job id>`)

  Returns { 1 }                   decided
          { -1 }                  no such job
          { 0, 'not-awaiting' }   no output awaits (not yet, not any more, or never)
          { 0, 'decided', json }  already decided: that decision
          { 0, 'expired', deadline }  its deadline has passed (it fails when a host picks it up)
          { 0, 'changed', round }  another output awaits now (rejected with retry, run again): decide on that one
  Nothing is written unless it returns { 1 }.
]]
local rcall = redis.call
local id = ARGV[1]
local f = rcall('HMGET', KEYS[1], 'sqAwaiting', 'sqDecision', 'sqDecisions', 'sqRound')
if rcall('EXISTS', KEYS[1]) == 0 then return { -1 } end
if not f[1] or f[1] == '' then return { 0, 'not-awaiting' } end
if f[4] ~= ARGV[4] then return { 0, 'changed', f[4] or '' } end
if f[2] and f[2] ~= '' then return { 0, 'decided', f[2] } end
local score = rcall('ZSCORE', KEYS[2], id)
-- Promoted (deadline reached) or taken by a worker: the host decides it now.
if not score then return { 0, 'not-awaiting' } end
local deadline = math.floor(tonumber(score) / 0x1000)
if deadline <= tonumber(ARGV[2]) then return { 0, 'expired', deadline } end

local history = ARGV[3]
if f[3] and f[3] ~= '' then history = f[3] .. ',' .. ARGV[3] end
rcall('HSET', KEYS[1], 'sqDecision', ARGV[3], 'sqDecisions', history, 'delay', 0)
rcall('ZREM', KEYS[2], id)
rcall('ZREM', KEYS[8], ARGV[5])
rcall('RPUSH', KEYS[3], id)

local meta = rcall('HMGET', KEYS[4], 'paused', 'concurrency', 'opts.maxLenEvents')
local pausedOrMaxed = meta[1] or (meta[2] and rcall('LLEN', KEYS[5]) >= tonumber(meta[2]))
if not pausedOrMaxed then rcall('ZADD', KEYS[6], 0, '0') end
local maxEvents = tonumber(meta[3] or '10000')
rcall('XADD', KEYS[7], 'MAXLEN', '~', maxEvents, '*', 'event', 'approval-decided', 'jobId', id, 'data', ARGV[3])
rcall('XADD', KEYS[7], 'MAXLEN', '~', maxEvents, '*', 'event', 'waiting', 'jobId', id, 'prev', 'delayed')
return { 1 }
