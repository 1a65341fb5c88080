--[[
  A keyed task's place in its node's fair order (fairTag-5.lua says how the
  tags work), shared by fairTag-5.lua (placed in the MULTI that adds the job)
  and addKeyed-13.lua (the add and the placing in one script).

  Returns the tag; -1 placed before (a job that names its key); -2 not where a
  fresh add puts it (gone, or taken already; BullMQ 6 keeps a paused queue's
  jobs in its wait list too): left as is, its key recorded. A task with no
  priority that nothing waits before (an idle node) stays in the wait list,
  tag 0: first in any order, so it is not moved.
  `added`: the caller's script has just added the job (it exists).
]]
-- The task counts as waiting for its key (what swarmq_key_waiting counts); an add of its id again records nothing new.
local function noteKeyWaiting(waitingKey, now, id)
  redis.call('ZADD', waitingKey, 'NX', now, id)
end

local function fairPlace(jobKey, waitKey, prioritizedKey, fairKey, waitingKey, id, key, inc, band, noteWaiting, now, added)
  local BAND = 4294967296 -- 2^32
  local KEYED = 2147483648 -- 2^31
  local MAX_TAG = KEYED - 1
  -- Scores go to Redis as integers: Lua would print a double over 14 digits rounded.
  local function int(n) return string.format('%.0f', n) end
  local function waiting()
    if noteWaiting then noteKeyWaiting(waitingKey, now, id) end
  end
  -- Just added by this script: it exists. Alone, after a MULTI's add, it may be gone.
  if not added and redis.call('EXISTS', jobKey) == 0 then return -2 end
  -- The key on the job marks it placed (the task view shows it, or the envelope's): one that has it was placed before.
  -- Added by this script on one Redis, a job taken as it came (below) needs no mark: an add of its id again finds it
  -- waiting as it came, or moved on, never marked. After a MULTI's add (a Cluster, where its waiting record is
  -- written beside it) every job is marked first, so that a later add of its id is known and its record dropped.
  local function mark() return redis.call('HSETNX', jobKey, 'sqKey', key) == 1 end
  if not added and not mark() then return -1 end
  local lo = band * BAND + KEYED
  local function headOfBand()
    return redis.call('ZRANGEBYSCORE', prioritizedKey, int(lo), int(lo + MAX_TAG), 'WITHSCORES', 'LIMIT', 0, 1)
  end
  local head
  if band == 0 then
    -- Nothing waits before it (no keyed task waits in the band, the wait list holds only this job): it is first in
    -- any order, so it stays where the add put it. The band's head is asked first: behind a keyed backlog (whose
    -- tasks left the wait list for the band) that one command decides.
    head = headOfBand()
    if #head == 0 then
      local listed = redis.call('LRANGE', waitKey, 0, 1)
      if #listed == 1 and listed[1] == id then
        waiting()
        return 0
      end
    end
  end
  if added and not mark() then return -1 end
  -- A fresh add put it at the head of the wait list (no priority) or among the prioritized (BullMQ's counter).
  local removed
  if band == 0 then removed = redis.call('LREM', waitKey, 1, id) else removed = redis.call('ZREM', prioritizedKey, id) end
  if removed == 0 then return -2 end
  head = head or headOfBand()
  local v, f = 0, 0
  local clocks = { false, false }
  if #head == 0 then
    redis.call('DEL', fairKey)
  else
    clocks = redis.call('HMGET', fairKey, 'v', key)
    v = math.max(tonumber(clocks[1] or '0'), tonumber(head[2]) - lo)
    f = tonumber(clocks[2] or '0')
  end
  -- Past 2^31 - 1 (about two million tasks of one weight-1 key through one node that never empties) tags stay at the end, in no order.
  local tag = math.min(math.max(v, f), MAX_TAG)
  redis.call('HSET', fairKey, 'v', int(v), key, int(math.min(tag + inc, MAX_TAG)))
  -- Clocks of a node that went away go with it; set as the clocks start (a day outlasts any backlog's wait).
  if not clocks[1] then redis.call('PEXPIRE', fairKey, 86400000) end
  redis.call('ZADD', prioritizedKey, int(lo + tag), id)
  waiting()
  return tag
end
