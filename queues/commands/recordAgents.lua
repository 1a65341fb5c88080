--[[
  Records on each job hash which agent runs it, for a batch of jobs of one node
  queue (so all keys share a hash slot when the queue name is hash-tagged). A
  job already gone (removed on completion) is skipped, never re-created.

  KEYS[i] job hash      (any number of keys)
  ARGV[i] agent id of KEYS[i]
  ARGV[#KEYS + 1] the field to set

  Returns how many were recorded.
]]
local rcall = redis.call
local field = ARGV[#KEYS + 1]
local n = 0
for i = 1, #KEYS do
  if rcall('EXISTS', KEYS[i]) == 1 then
    rcall('HSET', KEYS[i], field, ARGV[i])
    n = n + 1
  end
end
return n
