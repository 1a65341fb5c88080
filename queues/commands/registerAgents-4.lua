--[[
  Registers agents and seats each in a coordination node, atomically, so hosts
  registering at the same moment never overfill a node.

  An agent already registered keeps its node (a restarted host with the same id
  takes its old seats back) and its start time, except a pooled agent registered
  again without the mark: it was warm and starts working now. A new agent joins the lowest-numbered node of its
  profile with a free seat, else a new node is created.

  KEYS[1] agents hash   (agentId -> record JSON)
  KEYS[2] nodes hash    (nodeId -> record JSON)
  KEYS[3] node sequence
  KEYS[4] roster version (a counter, started at ARGV[2] when absent)

  ARGV[1] max agents per node
  ARGV[2] now (ms)
  ARGV[3] JSON array of { id, type, capabilities, capacity, taskTypes, hostId, profile }
  ARGV[4] nodes per slot group (the queue of node n<seq> is `node-{g<k>}-n<seq>`,
          k = floor((seq - 1) / ARGV[4]) + 1, as nodeQueueName in keys.ts)
  ARGV[5] the highest node sequence number (MAX_NODE_SEQ in keys.ts)

  Numbers in names are printed with '%d': tostring would print 1e14 as '1e+14',
  and TypeScript names the same node n100000000000000. Below ARGV[5] both agree.

  Returns a JSON object agentId -> nodeId, or an error (and writes nothing) when
  a new node would pass ARGV[5].
]]
local rcall = redis.call
local maxPerNode = tonumber(ARGV[1])
local now = tonumber(ARGV[2])
local agents = cjson.decode(ARGV[3])
local slotGroupSize = tonumber(ARGV[4])
local maxSeq = tonumber(ARGV[5])
local seqBefore = tonumber(rcall('GET', KEYS[3]) or '0')
if not seqBefore then return redis.error_reply('ERR the node sequence ' .. KEYS[3] .. ' is not a number') end
local seq = seqBefore

-- Load nodes once: O(nodes + agents) for the whole batch.
local nodes = {}
local order = {}
local flat = rcall('HGETALL', KEYS[2])
for i = 1, #flat, 2 do
  local rec = cjson.decode(flat[i + 1])
  nodes[flat[i]] = rec
  order[#order + 1] = rec
end
table.sort(order, function(a, b) return a.seq < b.seq end)

-- Everything is decided before anything is written, so a refusal writes nothing.
local dirty = {}
local seats = {}
local records, recordOf = {}, {}
for _, a in ipairs(agents) do
  local existing = recordOf[a.id] or rcall('HGET', KEYS[1], a.id)
  local nodeId
  if existing then
    local old = cjson.decode(existing)
    if nodes[old.node] and nodes[old.node].profile == a.profile then
      nodeId = old.node
      if not (old.pooled and not a.pooled) then a.startedAt = old.startedAt end
    else
      if nodes[old.node] then
        nodes[old.node].members = nodes[old.node].members - 1
        dirty[old.node] = true
      end
    end
  end
  if not nodeId then
    for _, n in ipairs(order) do
      if n.profile == a.profile and n.members < maxPerNode then
        nodeId = n.id
        break
      end
    end
    if not nodeId then
      seq = seq + 1
      if seq > maxSeq then
        return redis.error_reply('ERR no node can be added: the node sequence is at ' .. string.format('%d', seq - 1) .. ', the highest swarmq names (n' .. string.format('%d', maxSeq) .. ')')
      end
      nodeId = string.format('n%d', seq)
      local rec = { id = nodeId, seq = seq, queue = string.format('node-{g%d}-%s', math.floor((seq - 1) / slotGroupSize) + 1, nodeId), profile = a.profile, members = 0, createdAt = now }
      nodes[nodeId] = rec
      order[#order + 1] = rec
    end
    nodes[nodeId].members = nodes[nodeId].members + 1
    dirty[nodeId] = true
  end
  a.node = nodeId
  a.profile = nil
  if not a.startedAt then a.startedAt = now end
  recordOf[a.id] = cjson.encode(a)
  records[#records + 1] = a.id
  seats[a.id] = nodeId
end

if seq > seqBefore then rcall('SET', KEYS[3], string.format('%d', seq)) end
for _, id in ipairs(records) do rcall('HSET', KEYS[1], id, recordOf[id]) end
for nodeId, _ in pairs(dirty) do
  rcall('HSET', KEYS[2], nodeId, cjson.encode(nodes[nodeId]))
end
-- Routers re-read the roster when its version differs from the one they hold. A version that starts at 0 would
-- count up to numbers they have seen before after Redis lost its data (restarted with no persistence): starting
-- at the clock's ms it differs from any they hold.
if rcall('EXISTS', KEYS[4]) == 0 then rcall('SET', KEYS[4], string.format('%d', now)) end
rcall('INCR', KEYS[4])
return cjson.encode(seats)
