--[[
  First half of taking a parked task to a node. The parked queue is its own slot
  group, so no one script can move a job from it into a node queue on Redis
  Cluster. Instead the leader claims the task here (out of the waiting
  structures, its target recorded, its id in the `unparking` set), then adds it
  to the target queue under the same job id (which BullMQ refuses to add twice)
  and finally deletes the parked copy. A leader that dies between the halves
  leaves the claim in `unparking`, and the next one finishes it.

  KEYS[1] parked wait   KEYS[2] parked prioritized   KEYS[3] parked events
  KEYS[4] group moved   KEYS[5] group unparking set   KEYS[6] group fence
  ARGV[1] job id        ARGV[2] target node id        ARGV[3] leader token

  Returns 1 when claimed, 0 when the task is not waiting here any more
  (cancelled, or claimed already), -1 when the token is stale.
]]
local rcall = redis.call
--- @include "includes/checkFence"
if not checkFence(KEYS[6], ARGV[3]) then return -1 end
local id = ARGV[1]
if rcall('LREM', KEYS[1], 0, id) + rcall('ZREM', KEYS[2], id) == 0 then return 0 end
rcall('HSET', KEYS[4], id, ARGV[2])
rcall('SADD', KEYS[5], id)
rcall('XADD', KEYS[3], 'MAXLEN', '~', 10000, '*', 'event', 'moved', 'jobId', id, 'to', ARGV[2])
return 1
