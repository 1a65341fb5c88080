--[[
  Finishes taken intake jobs in one step, each by BullMQ's own moveToFinished
  (events, metrics, its removeOnComplete / removeOnFail, the lock checked and
  released) with the arguments BullMQ's builder made for it, never fetching
  the next job.
  KEYS[1..10] BullMQ's moveToFinished keys 1–10 of the intake queue (wait …
  priority counter)  KEYS[11] completed  KEYS[12] failed
  KEYS[13] metrics:completed  KEYS[14] metrics:failed  KEYS[15] marker
  ARGV[1] the queue's key prefix, then per job 8 values: BullMQ's
  moveToFinished arguments 1–8 (job id, timestamp, field, value, target,
  fetch next, key prefix, packed options)
  Returns BullMQ's code per job (0 done, negative: not this taker's any more).
]]
--- @include "includes/finishIntakeJob"

local codes = {}
for i = 2, #ARGV, 8 do
  codes[#codes + 1] = finishIntakeJob(KEYS, ARGV[1], ARGV, i)
end
return codes
