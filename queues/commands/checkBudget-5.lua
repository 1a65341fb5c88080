--[[
  Whether a task of a key with a budget may start: not once the key's spend in
  the current period has reached a limit (no start fits). Then, by the budget's
  `queued` setting, the task waits (recorded in KEYS[3] so a raised budget
  brings it back; the host delays it until the period resets, no attempt
  spent) or fails (it no longer counts as waiting for its key). Nothing is
  reserved: a start is refused only once the spend has reached the limit
  (docs/budgets.md says what overshoot that allows). Redis's clock.

  KEYS[1] budget hash  KEYS[2] spent hash  KEYS[3] budget-held zset: `<node>|<task id>` -> when
  KEYS[4] waiting zset  KEYS[5] state hash (throttled:budget)
  ARGV[1] task id  ARGV[2] node id

  Returns {'ok'}, or { 'wait' | 'fail', ms until the period resets, spent tokens, spent costUsd,
  limit tokens or '', limit costUsd or '', period end }.
]]
local rcall = redis.call
--- @include "includes/budgetPeriod"
local id, heldAs = ARGV[1], ARGV[2] .. '|' .. ARGV[1]
local b = rcall('HMGET', KEYS[1], 'tokens', 'costUsd', 'period', 'queued')
local limT, limC = tonumber(b[1]), tonumber(b[2])
if not limT and not limC then
  rcall('ZREM', KEYS[3], heldAs)
  return { 'ok' }
end
local t = rcall('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local period = b[3] or 'day'
local start, stop = budgetPeriodBounds(period, now)
local s = rcall('HMGET', KEYS[2], 'start', 'period', 'tokens', 'costUsd')
local spentT, spentC = 0, 0
if s[1] == budgetMs(start) and s[2] == period then
  spentT, spentC = tonumber(s[3]) or 0, tonumber(s[4]) or 0
end
if not ((limT and spentT >= limT) or (limC and spentC >= limC)) then
  rcall('ZREM', KEYS[3], heldAs)
  return { 'ok' }
end
rcall('HINCRBY', KEYS[5], 'throttled:budget', 1)
local verdict = 'wait'
if b[4] == 'fail' then
  verdict = 'fail'
  rcall('ZREM', KEYS[3], heldAs)
  rcall('ZREM', KEYS[4], id)
else
  rcall('ZADD', KEYS[3], 'NX', now, heldAs)
end
return { verdict, stop - now, tostring(spentT), tostring(spentC), b[1] or '', b[2] or '', budgetMs(stop) }
