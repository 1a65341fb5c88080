--[[
  Adds a processor's usage report to its key's spend, swarm-wide: the current
  period's totals (and by task type), and the all-time totals by task type the
  metrics export. Says where the key's budget stands after it, and which alert
  thresholds (80 and 100 %) this report crossed first in the period: each is
  flagged in the period's totals, so it fires once (src/budgets/usageReports.ts
  publishes the budget:alert). Redis's clock decides the period.

  A new period (or a changed one) starts the totals afresh; the last period's
  stay readable under KEYS[3] until they expire.

  KEYS[1] budget hash: tokens, costUsd, period, queued, running
  KEYS[2] spent hash: start, end, period, tokens, inputTokens, outputTokens, costUsd, reports,
          t:<type>:tokens, t:<type>:costUsd, alerted:<threshold>
  KEYS[3] the previous period's spent hash
  KEYS[4] usage hash (all time): <type>|tokens, <type>|inputTokens, <type>|outputTokens, <type>|costUsd, <type>|reports
  ARGV[1] task type  ARGV[2] tokens  ARGV[3] inputTokens  ARGV[4] outputTokens  ARGV[5] costUsd

  Returns { now, start, end, spent tokens, spent costUsd, limit tokens or '', limit costUsd or '',
            spent (1: no start fits), over (1: past a limit), running setting, thresholds crossed }.
]]
local rcall = redis.call
--- @include "includes/budgetPeriod"
local t = rcall('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local b = rcall('HMGET', KEYS[1], 'tokens', 'costUsd', 'period', 'running')
local limT, limC = tonumber(b[1]), tonumber(b[2])
local period = b[3] or 'day'
local start, stop = budgetPeriodBounds(period, now)

local cur = rcall('HMGET', KEYS[2], 'start', 'period')
if cur[1] ~= budgetMs(start) or cur[2] ~= period then
  if cur[1] then rcall('RENAME', KEYS[2], KEYS[3]) end
  rcall('HSET', KEYS[2], 'start', budgetMs(start), 'end', budgetMs(stop), 'period', period)
  -- Kept one period past its end, as the previous period's totals.
  rcall('PEXPIREAT', KEYS[2], budgetMs(stop + (stop - start)))
end

local ttype = ARGV[1]
local names = { 'tokens', 'inputTokens', 'outputTokens', 'costUsd' }
local spent = {}
for i, name in ipairs(names) do
  local v = tonumber(ARGV[i + 1]) or 0
  spent[name] = tonumber(rcall('HINCRBYFLOAT', KEYS[2], name, v))
  rcall('HINCRBYFLOAT', KEYS[4], ttype .. '|' .. name, v)
end
rcall('HINCRBY', KEYS[2], 'reports', 1)
rcall('HINCRBY', KEYS[4], ttype .. '|reports', 1)
rcall('HINCRBYFLOAT', KEYS[2], 't:' .. ttype .. ':tokens', tonumber(ARGV[2]) or 0)
rcall('HINCRBYFLOAT', KEYS[2], 't:' .. ttype .. ':costUsd', tonumber(ARGV[5]) or 0)

local ratio = 0
local over = 0
if limT then
  ratio = math.max(ratio, spent.tokens / limT)
  if spent.tokens > limT then over = 1 end
end
if limC then
  ratio = math.max(ratio, spent.costUsd / limC)
  if spent.costUsd > limC then over = 1 end
end
local crossed = {}
for _, threshold in ipairs({ 80, 100 }) do
  if (limT or limC) and ratio * 100 >= threshold and rcall('HSETNX', KEYS[2], 'alerted:' .. threshold, budgetMs(now)) == 1 then
    crossed[#crossed + 1] = threshold
  end
end
local isSpent = 0
if (limT or limC) and ratio >= 1 then isSpent = 1 end
return {
  now, start, stop, tostring(spent.tokens), tostring(spent.costUsd), b[1] or '', b[2] or '', isSpent, over, b[4] or '', crossed,
}
