--[[
  Lands taken intake jobs on one Redis in one step: for each, its task added
  to its node's queue by BullMQ's own add (addStandardJob or
  addPrioritizedJob, keys and arguments as BullMQ built them) and the intake
  job completed with the task's { id, node } by BullMQ's own moveToFinished.
  Both or neither: a job whose lock is not the taker's any more, or whose task
  id an earlier taker recorded (it routed the job step by step and died), is
  left as it is, for its holder or for the step-by-step routing.
  KEYS[1..15] finishIntake-15's (the intake queue's finishing keys)
  ARGV[1] the intake queue's key prefix  ARGV[2] the taker's lock token
  ARGV[3] the swarm's intake record prefix (`<prefix>:{swarm}:intake:`)
  ARGV[4] how long a record is kept (s), then per job 22 values: BullMQ's
  moveToFinished arguments 1–8 for the intake job, the add's command
  ('addStandardJob' or 'addPrioritizedJob'), its 9 keys and its 3 arguments,
  and the task's id.
  Returns per job: 0 landed, -100 recorded before (route it step by step),
  -6 not this taker's, or BullMQ's negative code from the add.
]]
local rcall = redis.call
--- @include "includes/finishIntakeJob"
local function bullmqAddStandard(KEYS, ARGV)
--- @bullmq "addStandardJob"
end
local function bullmqAddPrioritized(KEYS, ARGV)
--- @bullmq "addPrioritizedJob"
end

local codes = {}
for i = 5, #ARGV, 22 do
  local id = ARGV[i]
  local code = 0
  if rcall('GET', ARGV[1] .. id .. ':lock') ~= ARGV[2] then
    code = -6
  elseif rcall('EXISTS', ARGV[3] .. id) == 1 then
    code = -100
  else
    local addKeys = { ARGV[i + 9], ARGV[i + 10], ARGV[i + 11], ARGV[i + 12], ARGV[i + 13], ARGV[i + 14], ARGV[i + 15], ARGV[i + 16], ARGV[i + 17] }
    local addArgs = { ARGV[i + 18], ARGV[i + 19], ARGV[i + 20] }
    local added
    if ARGV[i + 8] == 'addPrioritizedJob' then added = bullmqAddPrioritized(addKeys, addArgs) else added = bullmqAddStandard(addKeys, addArgs) end
    if type(added) == 'number' and added < 0 then
      code = added
    else
      code = finishIntakeJob(KEYS, ARGV[1], ARGV, i)
      -- Its task is in, its job not finished (BullMQ refused, short of a broken job hash, having seen the lock above):
      -- the task id is recorded, so the job taken again is routed to this task, not to a second one.
      if code < 0 then rcall('SET', ARGV[3] .. id, ARGV[i + 21], 'EX', ARGV[4]) end
    end
  end
  codes[#codes + 1] = code
end
return codes
