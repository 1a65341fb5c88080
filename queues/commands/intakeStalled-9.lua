--[[
  BullMQ's own stalled check of the intake queue, as a Worker runs it: intake
  jobs whose taker died (lock lapsed) go back to waiting, flagged to fail once
  stalled more than the allowed count.
  KEYS and ARGV: BullMQ's moveStalledJobsToWait's.
]]
--- @bullmq "moveStalledJobsToWait"
