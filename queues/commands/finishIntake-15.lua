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
local function bullmqMoveToFinished(KEYS, ARGV)
--- @bullmq "moveToFinished"
end

local codes = {}
for i = 2, #ARGV, 8 do
  local id, target = ARGV[i], ARGV[i + 4]
  local done = target == 'completed'
  local keys = {
    KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10],
    done and KEYS[11] or KEYS[12], ARGV[1] .. id, done and KEYS[13] or KEYS[14], KEYS[15],
  }
  local r = bullmqMoveToFinished(keys, { id, ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], target, '0', ARGV[i + 6], ARGV[i + 7] })
  codes[#codes + 1] = type(r) == 'number' and r or 0
end
return codes
