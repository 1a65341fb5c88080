--[[
  Step 1 of moving waiting jobs to a node of another slot group. No script can
  span two groups' slots on a Redis Cluster, so the move is claimed here, in
  the source group, under the group's fence: each job leaves its waiting
  structure, and its whole hash (data, opts, priority, timestamps) and logs are
  recorded in the group's `moving` hash with the target node and the claim id.
  The job hash itself stays until the move is finished (finishCrossMove-2.lua),
  so a reader between the steps still finds the task (state unknown: waiting).
  The landing in the target group (landCrossMove-9.lua) is idempotent per
  claim, so a mover that dies after this step leaves a claim that the group's
  next round finishes: the task is neither lost nor added twice.

  The same jobs stay as moveJobs-12.lua leaves them: flow, scheduler and
  replica jobs never move. Plain waiting jobs go first (the newest), then
  prioritized ones from the least urgent end.

  KEYS[1] source wait   KEYS[2] source prioritized   KEYS[3] source events
  KEYS[4] group moving  KEYS[5] group moved          KEYS[6] group fence
  KEYS[7] group cross-move freeze (set while a Cluster checkpoint reads: claim nothing)
  ARGV[1] source job key prefix (`<prefix>:<queue>:`)
  ARGV[2] most jobs to claim   ARGV[3] target node id
  ARGV[4] fencing token        ARGV[5] claim id      ARGV[6] source node id

  Returns the claimed job ids (newest plain first, then prioritized), or -1
  when the token is stale.
]]
local rcall = redis.call
--- @include "includes/checkFence"
if not checkFence(KEYS[6], ARGV[4]) then return -1 end
if rcall('EXISTS', KEYS[7]) == 1 then return {} end
local srcPrefix, max = ARGV[1], tonumber(ARGV[2])
if max <= 0 then return {} end

local function movable(id)
  local f = rcall('HMGET', srcPrefix .. id, 'parentKey', 'rjk', 'sqReplicaOf')
  return not f[1] and not f[2] and not f[3] and rcall('EXISTS', srcPrefix .. id .. ':dependencies') == 0
    and rcall('HEXISTS', KEYS[4], id) == 0
end

local claimed = {}
local function claim(id, kind)
  local logs = rcall('LRANGE', srcPrefix .. id .. ':logs', 0, -1)
  rcall('HSET', KEYS[4], id, cjson.encode({
    claim = ARGV[5], from = ARGV[6], fromPrefix = srcPrefix, to = ARGV[3], kind = kind,
    hash = rcall('HGETALL', srcPrefix .. id), logs = logs
  }))
  rcall('HSET', KEYS[5], id, ARGV[3])
  rcall('XADD', KEYS[3], 'MAXLEN', '~', 10000, '*', 'event', 'moved', 'jobId', id, 'to', ARGV[3])
  claimed[#claimed + 1] = id
end

for _, id in ipairs(rcall('LRANGE', KEYS[1], 0, max - 1)) do
  if movable(id) then
    rcall('LREM', KEYS[1], 1, id)
    claim(id, 'plain')
  end
end
if #claimed < max then
  for _, id in ipairs(rcall('ZREVRANGE', KEYS[2], 0, max - #claimed - 1)) do
    if movable(id) then
      rcall('ZREM', KEYS[2], id)
      claim(id, 'prioritized')
    end
  end
end
return claimed
