--[[
  Takes up to ARGV[6] intake jobs in one step, each by BullMQ's own
  moveToActive (delayed jobs promoted, priorities, pause and rate limits as a
  Worker's fetch has them): each is left active and locked with the token, as
  a Worker's pickup leaves it, so BullMQ's stalled check returns it to waiting
  if its taker dies.
  KEYS[1..11] BullMQ's moveToActive keys of the intake queue
  ARGV[1] the queue's key prefix  ARGV[2] timestamp  ARGV[3] lock token
  ARGV[4] lock duration (ms)  ARGV[5] taker's name  ARGV[6] how many at most
  Returns { hgetall1, id1, ..., hgetallN, idN, limitUntil, delayUntil }: the
  last two are BullMQ's when the queue had no more to give (0 if it had).
]]
local function bullmqMoveToActive(KEYS, ARGV)
--- @bullmq "moveToActive"
end

local opts = cmsgpack.pack({ token = ARGV[3], lockDuration = tonumber(ARGV[4]), name = ARGV[5] })
local taken = {}
local limitUntil, delayUntil = 0, 0
for _ = 1, tonumber(ARGV[6]) do
  local r = bullmqMoveToActive(KEYS, { ARGV[1], ARGV[2], opts })
  if type(r[2]) ~= 'string' then
    limitUntil, delayUntil = r[3], r[4]
    break
  end
  taken[#taken + 1] = r[1]
  taken[#taken + 1] = r[2]
end
taken[#taken + 1] = limitUntil
taken[#taken + 1] = delayUntil
return taken
