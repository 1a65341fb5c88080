--[[
  Adds a usage report to the task's own totals, in its job hash, so the task's
  view shows them and its budget covers every attempt. A job that is gone
  (cancelled, removed) is not written again.

  KEYS[1] the job hash
  ARGV[1] tokens  ARGV[2] inputTokens  ARGV[3] outputTokens  ARGV[4] costUsd

  Returns the task's totals { tokens, inputTokens, outputTokens, costUsd, reports }, or nil without the job.
]]
local rcall = redis.call
if rcall('EXISTS', KEYS[1]) == 0 then return nil end
local out = {}
for i, name in ipairs({ 'sqTokens', 'sqInputTokens', 'sqOutputTokens', 'sqCostUsd' }) do
  out[i] = rcall('HINCRBYFLOAT', KEYS[1], name, tonumber(ARGV[i]) or 0)
end
out[5] = rcall('HINCRBY', KEYS[1], 'sqUsageReports', 1)
return out
