--[[
  Claims a seat for one replica of a replicated task (src/agents/replicaSeat.ts):
  the first candidate agent no other replica of the task holds.

  A replica that held another agent (an earlier attempt that failed or stalled
  there) gives that one up: its output will come from the new agent, and only
  outputs must come from distinct agents.

  KEYS[1] the task's claims hash (agent -> replica job id)
  ARGV[1] the replica's job id
  ARGV[2] TTL of the claims hash (seconds)
  ARGV[3..] candidate agents, the preferred one first
  Returns the claimed agent, or false when every candidate holds another replica.
]]
local claims = redis.call('HGETALL', KEYS[1])
local mine, holder = nil, {}
for i = 1, #claims, 2 do
  holder[claims[i]] = claims[i + 1]
  if claims[i + 1] == ARGV[1] then mine = claims[i] end
end
for i = 3, #ARGV do
  local a = ARGV[i]
  if holder[a] == nil or holder[a] == ARGV[1] then
    if mine and mine ~= a then redis.call('HDEL', KEYS[1], mine) end
    redis.call('HSET', KEYS[1], a, ARGV[1])
    redis.call('EXPIRE', KEYS[1], ARGV[2])
    return a
  end
end
return false
