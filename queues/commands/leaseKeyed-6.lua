--[[
  Lends a host a pool for a key: active slots and rate tokens in blocks, while
  the key is well below its limits, so the host starts most of the key's tasks
  without asking the key each time (admitKeyed-6.lua). The host calls it every
  ~100 ms while it uses the pool (src/agents/keyGate.ts; what to ask for is
  decided by src/keys/keyPool.ts), and each call also carries what the host did
  since the last: the tasks it started from its pool (no longer waiting,
  counted as started), the slots it gives back, the tokens it never used.

  What keeps the limits:
  - a lent slot is an entry of the active set (`~<host>:<n>`) with a lease, so
    maxActive counts it from the moment it is lent, used or not; it is renewed
    by these calls and lapses with its lease if the host dies;
  - a lent token is a start recorded at the end of its validity (now + valid
    ms); the host uses it before then (its own clock, from before it sent the
    call), so it counts in every window that could hold its start;
  - a pool is lent only while the key's limits are at least `min` and what is
    used (slots, starts in the window) stays within 1/`share` of them; over
    that, idle slots are taken back and the key's starts go through
    admitKeyed-6.lua again, one at a time;
  - a hold (holdKey-1.lua) or limits that no longer allow a pool are answered
    at the host's next call, and a host starts nothing from its pool more than
    200 ms after the call that last confirmed it was sent (docs/keys.md says
    so); it then gives its idle slots back.

  KEYS[1] limits  KEYS[2] active  KEYS[3] starts  KEYS[4] held  KEYS[5] waiting  KEYS[6] state
  ARGV[1] slot lease (ms)  ARGV[2] token validity (ms)  ARGV[3] min limit  ARGV[4] share
  ARGV[5] slots wanted  ARGV[6] tokens wanted  ARGV[7] name stem (`~<host>:<nonce>:`)  ARGV[8] first new number
  ARGV[9] #slots kept (renewed)  ARGV[10] #given back  ARGV[11] #tokens unused  ARGV[12] #started
  then the lists in that order: slots kept, slots given back, tokens unused, task ids started.

  Returns { verdict, ms, has maxActive (0/1), has rate (0/1), slots lent, tokens lent, lost slots (list), held to bring back (list) }:
  verdict 'ok' (pool lent or kept), 'hold' (ms until the hold ends), 'off' (no pool for these limits), 'full' (over its share now).
  With any verdict but 'ok' the host starts nothing more from its pool and gives its idle slots back at once (a second call).
]]
local rcall = redis.call
local t = rcall('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease, valid, min, share = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local wantSlots, wantTokens, stem, seq = tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7], tonumber(ARGV[8])
local at = 13
local function list(n)
  local out = {}
  for i = at, at + tonumber(n) - 1 do out[#out + 1] = ARGV[i] end
  at = at + tonumber(n)
  return out
end
local kept, back, unused, started = list(ARGV[9]), list(ARGV[10]), list(ARGV[11]), list(ARGV[12])
-- In chunks: unpack has a stack limit.
local function zremAll(key, members)
  for i = 1, #members, 1000 do rcall('ZREM', key, unpack(members, i, math.min(i + 999, #members))) end
end

-- What the host did since its last call.
if #started > 0 then
  zremAll(KEYS[5], started)
  rcall('HINCRBY', KEYS[6], 'started', #started)
end
zremAll(KEYS[3], unused)

local lim = rcall('HMGET', KEYS[1], 'maxActive', 'rateMax', 'ratePerMs')
local maxActive, rateMax, per = tonumber(lim[1]), tonumber(lim[2]), tonumber(lim[3])
local hasMax, hasRate = maxActive and 1 or 0, (rateMax and per) and 1 or 0

rcall('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
-- Slots given back: held tasks get the room they leave (as releaseKeyed-3.lua hands it out).
local held = {}
if #back > 0 then
  zremAll(KEYS[2], back)
  if maxActive then
    local room = math.min(100, maxActive - rcall('ZCARD', KEYS[2]))
    if room > 0 then
      local popped = rcall('ZPOPMIN', KEYS[4], room)
      for i = 1, #popped, 2 do held[#held + 1] = popped[i] end
    end
  end
end
-- Slots kept are renewed; a lapsed one (the host was cut off past its lease) is lost, never used again.
local lost = {}
for i = 1, #kept do
  if not rcall('ZSCORE', KEYS[2], kept[i]) then lost[#lost + 1] = kept[i]
  else rcall('ZADD', KEYS[2], 'XX', now + lease, kept[i]) end
end

local function no(verdict, ms) return { verdict, ms, hasMax, hasRate, 0, 0, lost, held } end
local holdUntil = tonumber(rcall('HGET', KEYS[6], 'holdUntil') or '0')
if holdUntil > now then return no('hold', holdUntil - now) end
if (maxActive and maxActive < min) or (hasRate == 1 and rateMax < min) then return no('off', 0) end

local slots, tokens = 0, 0
if maxActive then
  local room = math.floor(maxActive / share) - rcall('ZCARD', KEYS[2])
  if room < 0 then return no('full', 0) end
  slots = math.max(0, math.min(wantSlots, room))
  for i = 0, slots - 1 do rcall('ZADD', KEYS[2], now + lease, stem .. (seq + i)) end
end
if hasRate == 1 then
  rcall('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - per)
  -- Every start that could fall in a window with the tokens' own: reservations and other hosts' tokens included.
  local room = math.floor(rateMax / share) - rcall('ZCARD', KEYS[3])
  if room < 0 then return no('full', 0) end
  tokens = math.max(0, math.min(wantTokens, room))
  for i = 0, tokens - 1 do rcall('ZADD', KEYS[3], now + valid, stem .. 't' .. (seq + slots + i)) end
end
return { 'ok', 0, hasMax, hasRate, slots, tokens, lost, held }
