--[[
  Holds a key's tasks for a while, on every host: its provider said it is
  rate-limited (a processor's ctx.holdKey, an HTTP agent's 429 with
  Retry-After). admitKeyed-6.lua starts none before the hold ends. A hold only
  ever grows: two reports keep the later end.

  KEYS[1] the key's state hash
  ARGV[1] how long (ms)

  Returns when the hold ends (ms, Redis's clock).
]]
local rcall = redis.call
local t = rcall('TIME')
local untilMs = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
local current = tonumber(rcall('HGET', KEYS[1], 'holdUntil') or '0')
rcall('HINCRBY', KEYS[1], 'holds', 1)
if untilMs > current then
  rcall('HSET', KEYS[1], 'holdUntil', string.format('%.0f', untilMs))
  return untilMs
end
return current
