--[[
  Moves up to N waiting jobs from one node queue to another in one step, keeping
  BullMQ's structures consistent: the job hash (and its logs) are renamed into
  the target queue, plain jobs keep their order at the target's newest end,
  prioritized jobs keep their priority (with a fresh counter of the target), the
  target's marker wakes its idle workers, each queue's event stream says what
  happened, and the task's node is recorded in the group's `moved` hash.
  Both queues are of one slot group (hash tag), so this runs on Redis Cluster.

  Fencing: the group keeps the highest leader token any move has carried and
  refuses a lower one, so a coordinator that lost its lease to a newer one
  moves nothing here (a new leader stamps every group when it takes over).

  Only waiting jobs move: active, delayed, completed, failed, flow, scheduler
  and replica jobs stay where they are. Plain waiting jobs go first (the newest, which would
  run last), then prioritized ones from the least urgent end.

  KEYS[1]  source wait            KEYS[2]  source prioritized     KEYS[3] source events
  KEYS[4]  target wait            KEYS[5]  target prioritized     KEYS[6] target priority counter
  KEYS[7]  target marker          KEYS[8]  target meta            KEYS[9] target active
  KEYS[10] target events          KEYS[11] group moved hash       KEYS[12] group fence
  ARGV[1] source job key prefix (`<prefix>:<queue>:`)   ARGV[2] target job key prefix
  ARGV[3] most jobs to move       ARGV[4] target node id
  ARGV[5] fencing token, or '' when the caller holds none (a host rescuing its own node)
  ARGV[6] one job id to move (if it is waiting), or '' for "the N as above"

  Returns the number of jobs moved, or -1 when the fencing token is stale.
]]
local rcall = redis.call
--- @include "includes/checkFence"
if ARGV[5] ~= '' and not checkFence(KEYS[12], ARGV[5]) then return -1 end
local srcPrefix, dstPrefix = ARGV[1], ARGV[2]
local max = tonumber(ARGV[3])
if max <= 0 then return 0 end

-- Jobs of a flow or a scheduler belong where they are, and so do replicas added without a flow (sqReplicaOf, keys.ts REPLICA_OF_FIELD).
local function movable(id)
  local f = rcall('HMGET', srcPrefix .. id, 'parentKey', 'rjk', 'sqReplicaOf')
  return not f[1] and not f[2] and not f[3] and rcall('EXISTS', dstPrefix .. id) == 0 and rcall('EXISTS', srcPrefix .. id .. ':dependencies') == 0
end

local plain = {}
local prioritized = {}
local only = ARGV[6] or ''
if only ~= '' then
  if rcall('LPOS', KEYS[1], only) and movable(only) then plain[1] = only
  elseif rcall('ZSCORE', KEYS[2], only) and movable(only) then prioritized[1] = only end
else
  for _, id in ipairs(rcall('LRANGE', KEYS[1], 0, max - 1)) do
    if movable(id) then plain[#plain + 1] = id end
  end
end
if only == '' and #plain < max then
  for _, id in ipairs(rcall('ZREVRANGE', KEYS[2], 0, max - #plain - 1)) do
    if movable(id) then prioritized[#prioritized + 1] = id end
  end
end

local meta = rcall('HMGET', KEYS[8], 'paused', 'concurrency', 'opts.maxLenEvents')
local pausedOrMaxed = meta[1] ~= false or (meta[2] and rcall('LLEN', KEYS[9]) >= tonumber(meta[2]))
local maxEvents = tonumber(meta[3] or '10000')

local function carry(id)
  rcall('RENAME', srcPrefix .. id, dstPrefix .. id)
  if rcall('EXISTS', srcPrefix .. id .. ':logs') == 1 then rcall('RENAME', srcPrefix .. id .. ':logs', dstPrefix .. id .. ':logs') end
  rcall('HSET', KEYS[11], id, ARGV[4])
  rcall('XADD', KEYS[3], 'MAXLEN', '~', maxEvents, '*', 'event', 'moved', 'jobId', id, 'to', ARGV[4])
  rcall('XADD', KEYS[10], 'MAXLEN', '~', maxEvents, '*', 'event', 'waiting', 'jobId', id, 'prev', 'moved')
end

-- Oldest of the moved first, so they keep their order behind the target's own.
for i = #plain, 1, -1 do
  local id = plain[i]
  rcall('LREM', KEYS[1], 1, id)
  carry(id)
  rcall('LPUSH', KEYS[4], id)
end
-- Most urgent of the moved first, so within one priority they keep their order.
for i = #prioritized, 1, -1 do
  local id = prioritized[i]
  rcall('ZREM', KEYS[2], id)
  carry(id)
  local priority = tonumber(rcall('HGET', dstPrefix .. id, 'priority') or '0')
  local counter = rcall('INCR', KEYS[6])
  rcall('ZADD', KEYS[5], priority * 0x100000000 + counter % 0x100000000, id)
end

local moved = #plain + #prioritized
if moved > 0 and not pausedOrMaxed then rcall('ZADD', KEYS[7], 0, '0') end
return moved
