--[[
  A task that carries a key ended here (finished, failed, cancelled, handed
  back): its active slot is freed, and tasks held for a slot (admitKeyed-6.lua)
  are handed out, as many as the key now has free, oldest first, for the caller
  to bring back (BullMQ's promote). With no task id it only hands out free
  slots: after a key's limits change.

  KEYS[1] limits hash  KEYS[2] active zset  KEYS[3] held zset
  ARGV[1] task id, or ''  ARGV[2] most to hand out

  Returns the held entries handed out (`<node>|<task id>`).
]]
local rcall = redis.call
local t = rcall('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ARGV[1] ~= '' then rcall('ZREM', KEYS[2], ARGV[1]) end
rcall('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local most = tonumber(ARGV[2])
local maxActive = tonumber(rcall('HGET', KEYS[1], 'maxActive'))
if maxActive then most = math.min(most, maxActive - rcall('ZCARD', KEYS[2])) end
if most <= 0 then return {} end
local out = {}
local popped = rcall('ZPOPMIN', KEYS[3], most)
for i = 1, #popped, 2 do out[#out + 1] = popped[i] end
return out
