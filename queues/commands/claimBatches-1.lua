--[[
  Takes over the fan-out of staged batches that are due (their submitter, or
  the last one to take them over, did not finish in time): each one taken is
  due again `lease` ms from now, so one taker at a time works on a batch.

  KEYS[1] batches (zset batchId -> due ms)
  ARGV[1] lease ms   ARGV[2] most batches to take   ARGV[3] one batch id, or '' for any due ones

  Returns the batch ids taken.
]]
local rcall = redis.call
local t = rcall('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ids
if ARGV[3] ~= '' then
  local due = rcall('ZSCORE', KEYS[1], ARGV[3])
  if due and tonumber(due) <= now then ids = { ARGV[3] } else ids = {} end
else
  ids = rcall('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
end
for _, id in ipairs(ids) do rcall('ZADD', KEYS[1], now + tonumber(ARGV[1]), id) end
return ids
