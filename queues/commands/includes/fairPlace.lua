--[[
  A keyed task's place in its node's fair order (fairTag-5.lua says how the
  tags work), shared by fairTag-5.lua (placed in the MULTI that adds the job)
  and addKeyed-13.lua (the add and the placing in one script).

  Returns the tag; -1 placed before (a job that names its key); -2 not where a
  fresh add puts it (gone, taken already, or in a paused queue): left as is,
  its key recorded.
]]
local function fairPlace(jobKey, waitKey, prioritizedKey, fairKey, waitingKey, id, key, inc, band, noteWaiting, now)
  local BAND = 4294967296 -- 2^32
  local KEYED = 2147483648 -- 2^31
  local MAX_TAG = KEYED - 1
  if redis.call('EXISTS', jobKey) == 0 then return -2 end
  if redis.call('HEXISTS', jobKey, 'sqKey') == 1 then return -1 end
  -- A fresh add put it in the wait list (no priority) or among the prioritized (BullMQ's counter).
  local removed
  if band == 0 then removed = redis.call('LREM', waitKey, 1, id) else removed = redis.call('ZREM', prioritizedKey, id) end
  -- The job names its key from here on (the task view shows it), placed or not.
  redis.call('HSET', jobKey, 'sqKey', key)
  if removed == 0 then return -2 end
  -- Scores go to Redis as integers: Lua would print a double over 14 digits rounded.
  local function int(n) return string.format('%.0f', n) end
  local lo = band * BAND + KEYED
  local head = redis.call('ZRANGEBYSCORE', prioritizedKey, int(lo), int(lo + MAX_TAG), 'WITHSCORES', 'LIMIT', 0, 1)
  local v, f = 0, 0
  if #head == 0 then
    redis.call('DEL', fairKey)
  else
    local clocks = redis.call('HMGET', fairKey, 'v', key)
    v = math.max(tonumber(clocks[1] or '0'), tonumber(head[2]) - lo)
    f = tonumber(clocks[2] or '0')
  end
  -- Past 2^31 - 1 (about two million tasks of one weight-1 key through one node that never empties) tags stay at the end, in no order.
  local tag = math.min(math.max(v, f), MAX_TAG)
  redis.call('HSET', fairKey, 'v', int(v), key, int(math.min(tag + inc, MAX_TAG)))
  redis.call('PEXPIRE', fairKey, 86400000)
  redis.call('ZADD', prioritizedKey, int(lo + tag), id)
  if noteWaiting then redis.call('ZADD', waitingKey, 'NX', now, id) end
  return tag
end
