--[[
  One BullMQ queue as a swarmq checkpoint reads it (readSwarm-0, readSwarmState-1,
  readSlot-1): its lists and sets and the hash of every job in them. `unparking`
  names claimed parked tasks whose hashes are read too (the parked queue only).
  Returns { name, paused 0/1, wait, active, paused list, prioritized,
            delayed (id, score, ...), completed (id, score, ...), failed (id, score, ...),
            unparking ids, jobs (id, hash (flat), ...), intake mappings (empty: the caller's) }
]]
local function readQueue(prefix, q, withFinished, unparking)
  local rcall = redis.call
  local k = prefix .. ':' .. q .. ':'
  local paused = rcall('HEXISTS', k .. 'meta', 'paused')
  local wait = rcall('LRANGE', k .. 'wait', 0, -1)
  local active = rcall('LRANGE', k .. 'active', 0, -1)
  local pausedList = rcall('LRANGE', k .. 'paused', 0, -1)
  local prioritized = rcall('ZRANGE', k .. 'prioritized', 0, -1)
  local delayed = rcall('ZRANGE', k .. 'delayed', 0, -1, 'WITHSCORES')
  local completed, failed = {}, {}
  if withFinished then
    completed = rcall('ZRANGE', k .. 'completed', 0, -1, 'WITHSCORES')
    failed = rcall('ZRANGE', k .. 'failed', 0, -1, 'WITHSCORES')
  end
  local jobs, seen = {}, {}
  local function read(id)
    if not seen[id] then
      seen[id] = true
      jobs[#jobs + 1] = id
      jobs[#jobs + 1] = rcall('HGETALL', k .. id)
    end
  end
  for _, list in ipairs({ active, wait, pausedList, prioritized, unparking }) do
    for _, id in ipairs(list) do read(id) end
  end
  for _, set in ipairs({ delayed, completed, failed }) do
    for i = 1, #set, 2 do read(set[i]) end
  end
  return { q, paused, wait, active, pausedList, prioritized, delayed, completed, failed, unparking, jobs, {} }
end
