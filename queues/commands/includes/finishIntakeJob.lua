--[[
  One taken intake job finished by BullMQ's own moveToFinished (put in here
  unchanged when the commands are loaded), never fetching the next job:
  shared by finishIntake-15.lua and landIntake-15.lua.
  keys: the scripts' KEYS[1..15] (the intake queue's finishing keys, both
  outcomes'); prefix: the queue's key prefix; argv and i: BullMQ's
  moveToFinished arguments 1–8 for the job at argv[i..i+7].
  Returns BullMQ's code: 0 done, negative not this taker's any more.
]]
local function bullmqMoveToFinished(KEYS, ARGV)
--- @bullmq "moveToFinished"
end

local function finishIntakeJob(keys, prefix, argv, i)
  local id, target = argv[i], argv[i + 4]
  local done = target == 'completed'
  local jobKeys = {
    keys[1], keys[2], keys[3], keys[4], keys[5], keys[6], keys[7], keys[8], keys[9], keys[10],
    done and keys[11] or keys[12], prefix .. id, done and keys[13] or keys[14], keys[15],
  }
  local r = bullmqMoveToFinished(jobKeys, { id, argv[i + 1], argv[i + 2], argv[i + 3], target, '0', argv[i + 6], argv[i + 7] })
  return type(r) == 'number' and r or 0
end
