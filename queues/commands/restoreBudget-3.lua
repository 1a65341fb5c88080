--[[
  A restore's write of one key's budget and spend (src/checkpoint/restore.ts),
  in the key's slot, in one step: a host checking a start sees the budget and
  the spend together, never the budget without its spend.

  The budget (when the file carries one) replaces the key's, as a set does.
  The spend is written back only while the period it was counted in is still
  the current one here, on Redis's clock, for the budget's period as the key
  now holds it: spend of a period that has ended is stale and dropped. Each
  amount is raised to the file's, never lowered (max, not overwrite, nor add):
  a restore into a live swarm cannot erase spending, and one run twice counts
  nothing twice. An alert flag is set if missing. A spent hash of another
  period is turned as recordUsage-4.lua turns it (kept as the previous one).

  KEYS[1] budget hash  KEYS[2] spent hash  KEYS[3] the previous period's spent hash
  ARGV[1] n: how many budget arguments follow (field, value pairs; 0: leave the budget as it is)
  ARGV[2 .. n+1] the budget's fields
  ARGV[n+2] the spend's period start (ms), '' for no spend  ARGV[n+3] its period as the hash spells it
  ARGV[n+4 ..] the spend's fields and values: amounts (tokens, …, t:<type>:tokens, reports) and alerted:<threshold>

  Returns { 'none' } without spend, else { 'restored' | 'merged' | 'stale', the current period's start }:
  restored into an empty (or other period's) spent hash, merged with this period's, or dropped.
]]
local rcall = redis.call
--- @include "includes/budgetPeriod"
local n = tonumber(ARGV[1]) or 0
if n > 0 then
  rcall('DEL', KEYS[1])
  rcall('HSET', KEYS[1], unpack(ARGV, 2, n + 1))
end
local fileStart, filePeriod = ARGV[n + 2], ARGV[n + 3]
if fileStart == nil or fileStart == '' then return { 'none' } end

local t = rcall('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local period = rcall('HGET', KEYS[1], 'period') or 'day'
local start, stop = budgetPeriodBounds(period, now)
if filePeriod ~= period or fileStart ~= budgetMs(start) then return { 'stale', budgetMs(start) } end

local verdict = 'restored'
local cur = rcall('HMGET', KEYS[2], 'start', 'period')
if cur[1] == budgetMs(start) and cur[2] == period then
  verdict = 'merged'
else
  if cur[1] then rcall('RENAME', KEYS[2], KEYS[3]) end
  rcall('HSET', KEYS[2], 'start', budgetMs(start), 'end', budgetMs(stop), 'period', period)
  rcall('PEXPIREAT', KEYS[2], budgetMs(stop + (stop - start)))
end
for i = n + 4, #ARGV - 1, 2 do
  local field, value = ARGV[i], ARGV[i + 1]
  if string.sub(field, 1, 8) == 'alerted:' then
    rcall('HSETNX', KEYS[2], field, value)
  elseif (tonumber(value) or 0) > (tonumber(rcall('HGET', KEYS[2], field)) or 0) then
    rcall('HSET', KEYS[2], field, value)
  end
end
return { verdict, budgetMs(start) }
