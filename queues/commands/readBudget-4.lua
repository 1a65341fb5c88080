--[[
  A key's budget and spend in one read (GET /api/keys/:key/budget, a keyed
  submit's check for a key with a budget, the metrics). Only reads.

  KEYS[1] budget hash  KEYS[2] spent hash  KEYS[3] usage hash (all time)  KEYS[4] budget-held zset

  Returns { now, budget (flat), period start, period end, spent (flat; the caller keeps it only
  when its start is the period's), usage (flat), tasks waiting for the budget }.
]]
local rcall = redis.call
--- @include "includes/budgetPeriod"
local t = rcall('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local budget = rcall('HGETALL', KEYS[1])
local period = rcall('HGET', KEYS[1], 'period') or 'day'
local start, stop = budgetPeriodBounds(period, now)
return { now, budget, budgetMs(start), budgetMs(stop), rcall('HGETALL', KEYS[2]), rcall('HGETALL', KEYS[3]), rcall('ZCARD', KEYS[4]) }
