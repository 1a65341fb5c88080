--[[
  Step 2 of a move between slot groups (step 1: claimCrossMove-7.lua): the
  claimed jobs land in the target node's queue, in the target group's slot,
  under the same job ids. Idempotent per claim: each landing leaves
  `<claim>|<id>` in the group's `arrivals` set (scored by when, kept for
  ARGV[5] ms), and a landing already there is skipped, so a claim finished
  twice (by a mover that died after this step and the next round that finishes
  its claim, or by a deposed owner resuming after the new one finished it) adds
  each job once, even if it has since run, moved on or been cancelled. The
  marks are not dropped when the claim is finished, since a mover paused
  between reading its claim and landing it may still come; only after the
  window. The landing needs no fence: it only ever adds what a fenced claim took out.

  The task's node goes into the group's `moved` hash (readers follow moved
  records from the group its id names, group to group). A claim still pending
  in this group for the same id (the task left here, landed elsewhere, and is
  back before its mover finished) is settled here: the task can only be in
  another group's queue once that claim landed, so its record and its stale
  job hash go.

  KEYS[1] target wait      KEYS[2] target prioritized   KEYS[3] target priority counter
  KEYS[4] target marker    KEYS[5] target meta          KEYS[6] target active
  KEYS[7] target events    KEYS[8] group moved          KEYS[9] group arrivals (zset)
  KEYS[10] group moving
  ARGV[1] target job key prefix   ARGV[2] target node id   ARGV[3] claim id
  ARGV[4] JSON array of { id, kind, hash (flat field/value list), logs }, in the order claimed
  ARGV[5] how long a landing mark is kept (ms)

  Returns the number of jobs added now.
]]
local rcall = redis.call
local dstPrefix, node, claim = ARGV[1], ARGV[2], ARGV[3]
local jobs = cjson.decode(ARGV[4])
local meta = rcall('HMGET', KEYS[5], 'paused', 'concurrency', 'opts.maxLenEvents')
local pausedOrMaxed = meta[1] ~= false or (meta[2] and rcall('LLEN', KEYS[6]) >= tonumber(meta[2]))
local maxEvents = tonumber(meta[3] or '10000')

local t = rcall('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
rcall('ZREMRANGEBYSCORE', KEYS[9], '-inf', now - tonumber(ARGV[5]))
local plain = {}
local added = 0
for _, job in ipairs(jobs) do
  local id = job.id
  local mark = claim .. '|' .. id
  if not rcall('ZSCORE', KEYS[9], mark) then
    rcall('ZADD', KEYS[9], now, mark)
    local pending = rcall('HGET', KEYS[10], id)
    if pending then
      local p = cjson.decode(pending)
      local stale = p.fromPrefix .. id
      rcall('HDEL', KEYS[10], id)
      rcall('DEL', stale, stale .. ':logs')
    end
    if rcall('EXISTS', dstPrefix .. id) == 0 then
      rcall('HSET', dstPrefix .. id, unpack(job.hash))
      if type(job.logs) == 'table' then
        -- In chunks: unpack has a stack limit.
        for i = 1, #job.logs, 1000 do rcall('RPUSH', dstPrefix .. id .. ':logs', unpack(job.logs, i, math.min(i + 999, #job.logs))) end
      end
      rcall('HSET', KEYS[8], id, node)
      added = added + 1
      if job.kind == 'prioritized' then
        local priority = tonumber(rcall('HGET', dstPrefix .. id, 'priority') or '0')
        local counter = rcall('INCR', KEYS[3])
        rcall('ZADD', KEYS[2], priority * 0x100000000 + counter % 0x100000000, id)
      else
        plain[#plain + 1] = id
      end
      rcall('XADD', KEYS[7], 'MAXLEN', '~', maxEvents, '*', 'event', 'waiting', 'jobId', id, 'prev', 'moved')
    end
  end
end
-- Oldest of the moved first, so they keep their order behind the target's own.
for i = #plain, 1, -1 do rcall('LPUSH', KEYS[1], plain[i]) end
if added > 0 and not pausedOrMaxed then rcall('ZADD', KEYS[4], 0, '0') end
return added
