--[[
  Renews the leases of a key's tasks running on one host, as BullMQ renews
  their locks (src/agents/keyGate.ts): a slot whose lease lapses is freed, so
  a host that died frees its slots even if its tasks never run again.

  KEYS[1] the key's active zset (task id -> lease expiry, ms)
  ARGV[1] lease (ms)  ARGV[2..] task ids running here

  Returns how many still held a slot (a lapsed one is not taken back).
]]
local rcall = redis.call
local t = rcall('TIME')
local expiry = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
local renewed = 0
for i = 2, #ARGV do renewed = renewed + rcall('ZADD', KEYS[1], 'XX', 'CH', expiry, ARGV[i]) end
return renewed
