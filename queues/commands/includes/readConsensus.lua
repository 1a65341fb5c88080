--[[
  The consensus queue, and each proposal's round hashes in the same step, so a
  round's state and its proposal's job are of one moment. Replicated tasks'
  parents still waiting for their replicas sit in waiting-children: only their
  ids, to name them as not carried. Needs includes/readQueue.
  Returns { queue (as readQueue), waiting-children ids,
            rounds: { id, state (flat), pttl, decided (flat), pttl, rejected (flat), pttl } }
]]
local function readConsensus(prefix, consensusQueue, proposalName, roundHead, withFinished)
  local rcall = redis.call
  local cq = readQueue(prefix, consensusQueue, withFinished, {})
  local waitingChildren = rcall('ZRANGE', prefix .. ':' .. consensusQueue .. ':waiting-children', 0, -1)
  local rounds, cjobs = {}, cq[11]
  for i = 1, #cjobs, 2 do
    local id = cjobs[i]
    if rcall('HGET', prefix .. ':' .. consensusQueue .. ':' .. id, 'name') == proposalName then
      local r = { id }
      for _, h in ipairs({ 'state', 'decided', 'rejected' }) do
        local key = roundHead .. id .. ':' .. h
        r[#r + 1] = rcall('HGETALL', key)
        r[#r + 1] = rcall('PTTL', key)
      end
      rounds[#rounds + 1] = r
    end
  end
  return { cq, waitingChildren, rounds }
end
