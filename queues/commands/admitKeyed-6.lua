--[[
  Lets a task that carries a key start, or says why not: the key's limits
  checked and counted in one step, against every start of the key on every
  host (src/agents/keyGate.ts). Redis's clock, so hosts' clocks never matter.

  In turn:
  - a hold (the key reported rate-limited, holdKey-1.lua): not before it ends;
  - the task already holds an active slot (its earlier run died, was recovered
    or stalled, and it runs again): it keeps that slot;
  - maxActive: with that many of the key running, the task is held (KEYS[4])
    until one ends (releaseKeyed-3.lua hands it its slot);
  - rate (at most rateMax starts in any ratePerMs): over it, the task reserves
    the earliest start the window allows and is told to come back then; the
    reservation counts as a start, so tasks refused together come back spread
    out, not at once. A delayed task comes back a little late: its start is then
    checked again against the window ending now, and recorded when it happens,
    so every window of starts as they happened holds at most rateMax (a
    reservation not yet taken up counts in its place, earlier: never fewer).
  A lease on each active slot (renewKeyed-1.lua renews it while the task runs)
  frees the slot of a task whose host died and which never runs again. Slots
  and tokens lent to hosts' pools (leaseKeyed-6.lua) are entries of the same
  sets, so they count here like any other.

  KEYS[1] limits hash (maxActive, rateMax, ratePerMs)
  KEYS[2] active zset: task id -> lease expiry (ms)
  KEYS[3] starts zset: `<task id>#<attempt>` -> start time (ms), reservations too
  KEYS[4] held zset: `<node>|<task id>` -> when first held (ms)
  KEYS[5] waiting zset: task id -> submit time
  KEYS[6] state hash: holdUntil, started, throttled:<reason>
  ARGV[1] task id  ARGV[2] attempt (attempts made before this one)  ARGV[3] lease (ms)  ARGV[4] node id

  Returns { verdict, n }: {'ok', 0}; {'hold', ms to wait}; {'active', tasks held now}; {'rate', ms to wait}.
]]
local rcall = redis.call
local id, lease, node = ARGV[1], tonumber(ARGV[3]), ARGV[4]
local t = rcall('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local heldAs = node .. '|' .. id
local attempt = id .. '#' .. ARGV[2]

local function refuse(reason, delay)
  rcall('HINCRBY', KEYS[6], 'throttled:' .. reason, 1)
  return { reason, delay }
end

local function admit()
  rcall('ZADD', KEYS[2], now + lease, id)
  rcall('ZREM', KEYS[5], id)
  rcall('ZREM', KEYS[4], heldAs)
  rcall('HINCRBY', KEYS[6], 'started', 1)
  return { 'ok', 0 }
end

local holdUntil = tonumber(rcall('HGET', KEYS[6], 'holdUntil') or '0')
if holdUntil > now then return refuse('hold', holdUntil - now) end

rcall('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if rcall('ZSCORE', KEYS[2], id) then return admit() end

local lim = rcall('HMGET', KEYS[1], 'maxActive', 'rateMax', 'ratePerMs')
local maxActive, rateMax, per = tonumber(lim[1]), tonumber(lim[2]), tonumber(lim[3])

if maxActive and rcall('ZCARD', KEYS[2]) >= maxActive then
  rcall('ZADD', KEYS[4], 'NX', now, heldAs)
  -- A start it reserved did not happen: it no longer counts against the rate.
  rcall('ZREM', KEYS[3], attempt)
  return refuse('active', rcall('ZCARD', KEYS[4]))
end

if rateMax and per then
  rcall('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - per)
  local own = tonumber(rcall('ZSCORE', KEYS[3], attempt))
  if own then
    -- Back for its reservation: early (a clock between the host and Redis), or due.
    if own > now then return { 'rate', own - now } end
    -- Due, and back a little late, as a delayed task comes back: the start is counted when it happens,
    -- so the window ending now must have room besides its reservation, and its entry moves to now below.
    -- Tokens lent to hosts' pools (leaseKeyed-6.lua, `~…`) are recorded at the end of their validity and may be used
    -- before: they count here though recorded later than now. Other reservations later than now check themselves.
    local others = rcall('ZRANGEBYSCORE', KEYS[3], '(' .. (now - per), '+inf', 'WITHSCORES')
    local count, oldest = 0, nil
    for i = 1, #others, 2 do
      if others[i] ~= attempt and (tonumber(others[i + 1]) <= now or string.sub(others[i], 1, 1) == '~') then
        count = count + 1
        oldest = oldest or tonumber(others[i + 1])
      end
    end
    if count >= rateMax then return refuse('rate', math.max(1, oldest + per - now)) end
    rcall('ZADD', KEYS[3], now, attempt)
  else
    local n = rcall('ZCARD', KEYS[3])
    local at = now
    if n >= rateMax then
      -- The window ending at `at` may hold rateMax - 1 others: the rateMax-th latest must be out of it. Reservations go in order.
      local kth = rcall('ZRANGE', KEYS[3], n - rateMax, n - rateMax, 'WITHSCORES')
      local last = rcall('ZRANGE', KEYS[3], -1, -1, 'WITHSCORES')
      at = math.max(now, tonumber(kth[2]) + per, tonumber(last[2]))
    end
    rcall('ZADD', KEYS[3], at, attempt)
    if at > now then return refuse('rate', at - now) end
  end
end
return admit()
