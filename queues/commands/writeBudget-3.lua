--[[
  Replaces a key's budget (no fields: none), hands out the tasks that waited
  for its period to be brought back, and forgets the alerts that no longer
  hold under the new limits: a budget raised from 1,000 to 2,000 tokens with
  900 spent warns again at 1,600 and at 2,000, as an operator who raised it
  wants to know, while one set again to the same limits never alerts twice.
  One step in the key's slot, so a usage report lands before or after it.

  KEYS[1] budget hash  KEYS[2] spent hash (this period's, see recordUsage-4.lua)
  KEYS[3] budget-held sorted set (tasks waiting for the period)
  ARGV field, value, field, value, ... of the new budget

  Returns the held tasks' members.
]]
local rcall = redis.call
--- @include "includes/budgetPeriod"
rcall('DEL', KEYS[1])
if #ARGV > 0 then rcall('HSET', KEYS[1], unpack(ARGV)) end

local b = rcall('HMGET', KEYS[1], 'tokens', 'costUsd', 'period')
local limT, limC = tonumber(b[1]), tonumber(b[2])
local t = rcall('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local start = budgetPeriodBounds(b[3] or 'day', now)
local s = rcall('HMGET', KEYS[2], 'start', 'period', 'tokens', 'costUsd')
-- A spent hash of another period or period kind is started afresh by the next report: its flags go with it.
if s[1] == budgetMs(start) and s[2] == (b[3] or 'day') then
  local ratio = 0
  if limT then ratio = math.max(ratio, (tonumber(s[3]) or 0) / limT) end
  if limC then ratio = math.max(ratio, (tonumber(s[4]) or 0) / limC) end
  for _, threshold in ipairs({ 80, 100 }) do
    if not (limT or limC) or ratio * 100 < threshold then rcall('HDEL', KEYS[2], 'alerted:' .. threshold) end
  end
end

local held = rcall('ZRANGE', KEYS[3], 0, -1)
rcall('DEL', KEYS[3])
return held
