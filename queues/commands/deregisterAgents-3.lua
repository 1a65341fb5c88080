--[[
  Removes agents from the roster and frees their seats. A node left with no
  members stays: its queue may still hold tasks, and the next agent of its
  profile takes a seat there first.

  KEYS[1] agents hash
  KEYS[2] nodes hash
  KEYS[3] roster version
  ARGV    agent ids

  Returns the number of agents removed.
]]
local rcall = redis.call
local removed = 0
for i = 1, #ARGV do
  local raw = rcall('HGET', KEYS[1], ARGV[i])
  if raw then
    local a = cjson.decode(raw)
    local nraw = rcall('HGET', KEYS[2], a.node)
    if nraw then
      local n = cjson.decode(nraw)
      n.members = math.max(0, n.members - 1)
      rcall('HSET', KEYS[2], a.node, cjson.encode(n))
    end
    rcall('HDEL', KEYS[1], ARGV[i])
    removed = removed + 1
  end
end
if removed > 0 then rcall('INCR', KEYS[3]) end
return removed
