--[[
  A key's limits and counts in one read (GET /api/keys, the metrics, swarmq
  limits get). Only reads: lapsed leases and starts out of the window are not
  counted, not removed.

  KEYS[1] limits  KEYS[2] active  KEYS[3] starts  KEYS[4] held  KEYS[5] waiting  KEYS[6] state

  Returns { now, limits (flat field/value list), active, waiting, held, starts in the rate window, state (flat) }.
]]
local rcall = redis.call
local t = rcall('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limits = rcall('HGETALL', KEYS[1])
local per = tonumber(rcall('HGET', KEYS[1], 'ratePerMs') or '0')
local inWindow = 0
if per > 0 then inWindow = rcall('ZCOUNT', KEYS[3], '(' .. (now - per), now) end
return {
  now,
  limits,
  rcall('ZCOUNT', KEYS[2], '(' .. now, '+inf'),
  rcall('ZCARD', KEYS[5]),
  rcall('ZCARD', KEYS[4]),
  inWindow,
  rcall('HGETALL', KEYS[6]),
}
