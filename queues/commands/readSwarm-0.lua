--[[
  Reads everything a swarmq checkpoint carries, in one atomic step
  (src/checkpoint/read.ts says why one script). It computes key names from the
  prefix rather than taking them as KEYS (what it reads depends on what it has
  read), so it runs on a single Redis, not across a Cluster's slots.
  ARGV[1] prefix   ARGV[2] nodes per slot group   ARGV[3] '1': completed and failed jobs too
  ARGV[4] parked queue name   ARGV[5] intake queue name   ARGV[6] consensus queue name
  ARGV[7] a proposal's job name   ARGV[8] round keys' head (<head><round>:state)
  ARGV[9..] other queues to read (dead-letter)
  Returns { TIME, node-seq, agents (flat), nodes (flat), groups, queues, consensus, staged (flat: task id, JSON) }:
    group: { name, moved (flat), cancelled (flat) }
    queue: { name, paused 0/1, wait, active, paused list, prioritized, delayed (id, score, ...),
             completed (id, score, ...), failed (id, score, ...), unparking ids,
             jobs (id, hash (flat), ...), intake mappings (job id, task id, pttl, ...) }
    consensus: { queue (as above), waiting-children ids,
                 rounds: { id, state (flat), pttl, decided (flat), pttl, rejected (flat), pttl } }
]]
local rcall = redis.call
local prefix, groupSize, withFinished = ARGV[1], tonumber(ARGV[2]), ARGV[3] == '1'
local parkedQueue, intakeQueue = ARGV[4], ARGV[5]
local consensusQueue, proposalName, roundHead = ARGV[6], ARGV[7], ARGV[8]
local swarm = prefix .. ':{swarm}:'

local time = rcall('TIME')
local nodeSeq = tonumber(rcall('GET', swarm .. 'node-seq') or '0') or 0
local agents = rcall('HGETALL', swarm .. 'agents')
local nodes = rcall('HGETALL', swarm .. 'nodes')

-- Every queue a node ever had (nodes are numbered 1..node-seq; the queue name is
-- nodeQueueName's, numbers printed as registerAgents prints them), any other the
-- nodes hash names, the parked, intake and dead-letter queues.
local queues, queueSeen = {}, {}
local function addQueue(name)
  if type(name) == 'string' and name ~= '' and not queueSeen[name] then
    queueSeen[name] = true
    queues[#queues + 1] = name
  end
end
for seq = 1, nodeSeq do
  addQueue(string.format('node-{g%d}-n%d', math.floor((seq - 1) / groupSize) + 1, seq))
end
for i = 2, #nodes, 2 do
  local ok, rec = pcall(cjson.decode, nodes[i])
  if ok and type(rec) == 'table' then addQueue(rec.queue) end
end
addQueue(parkedQueue)
addQueue(intakeQueue)
for i = 9, #ARGV do addQueue(ARGV[i]) end

local groups, groupSeen, unparkingOf = {}, {}, {}
for _, q in ipairs(queues) do
  local g = string.match(q, '{([^}]+)}')
  if g and not groupSeen[g] then
    groupSeen[g] = true
    local base = prefix .. ':{' .. g .. '}:'
    unparkingOf[g] = rcall('SMEMBERS', base .. 'unparking')
    groups[#groups + 1] = { g, rcall('HGETALL', base .. 'moved'), rcall('HGETALL', base .. 'cancelled'), rcall('HGETALL', base .. 'moving') }
  end
end

--- @include "includes/readQueue"
--- @include "includes/readConsensus"

local function readSwarmQueue(q)
  local unparking = {}
  if q == parkedQueue then unparking = unparkingOf[string.match(q, '{([^}]+)}') or ''] or {} end
  local r = readQueue(prefix, q, withFinished, unparking)
  if q == intakeQueue then
    local jobs, intake = r[11], r[12]
    for i = 1, #jobs, 2 do
      local key = swarm .. 'intake:' .. jobs[i]
      local taskId = rcall('GET', key)
      if taskId then
        intake[#intake + 1] = jobs[i]
        intake[#intake + 1] = taskId
        intake[#intake + 1] = rcall('PTTL', key)
      end
    end
  end
  return r
end

local out = {}
for _, q in ipairs(queues) do out[#out + 1] = readSwarmQueue(q) end
-- Staged tasks of batches not yet fanned out (or fanned out, not yet finished): acknowledged, in no queue yet.
return { time, nodeSeq, agents, nodes, groups, out, readConsensus(prefix, consensusQueue, proposalName, roundHead, withFinished), rcall('HGETALL', swarm .. 'staged') }
