--[[
  Coordinator membership: each live coordinator refreshes its entry every
  round with an expiry on Redis's clock (so coordinators on machines whose
  clocks differ agree on who is live), and what it holds (for GET
  /api/coordinators). Entries past their expiry are dropped here, by whoever
  calls next: a coordinator that died leaves the membership within its ttl.

  KEYS[1] members (hash id -> '<expiry ms>:<roles>')   KEYS[2] details (hash id -> JSON)
  ARGV[1] coordinator id   ARGV[2] ttl ms (0: leave now)   ARGV[3] details JSON ('' leaves them as they are)
  ARGV[4] roles: the duties it runs ('b' balances, 'h' monitors hosts), so partitions go only to those who run them

  Returns { now ms, id1, expiry1, roles1, id2, ... } of the live members.
]]
local rcall = redis.call
local t = rcall('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
if ttl > 0 then
  rcall('HSET', KEYS[1], ARGV[1], (now + ttl) .. ':' .. ARGV[4])
  if ARGV[3] ~= '' then rcall('HSET', KEYS[2], ARGV[1], ARGV[3]) end
else
  rcall('HDEL', KEYS[1], ARGV[1])
  rcall('HDEL', KEYS[2], ARGV[1])
end
local out = { now }
local all = rcall('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local id, value = all[i], all[i + 1]
  local expiry = tonumber(string.match(value, '^(%d+)'))
  if expiry and expiry > now then
    out[#out + 1] = id
    out[#out + 1] = expiry
    out[#out + 1] = string.match(value, ':(.*)$') or ''
  else
    rcall('HDEL', KEYS[1], id)
    rcall('HDEL', KEYS[2], id)
  end
end
return out
