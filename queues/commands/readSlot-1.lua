--[[
  The queues of one hash slot, with that slot's group state, read for a
  checkpoint on a Redis Cluster in one step: a slot group's node queues with
  `{g<k>}`'s moved and cancelled records and its claims of tasks leaving for
  another group (`moving`, crossMove.ts); the parked queue with `{parked}`'s and
  its claimed (`unparking`) tasks; the intake or the dead-letter queue alone.
  Every key is `<prefix>:...{tag}...`, the slot of KEYS[1].
  KEYS[1] a key of the slot (the group's moved hash, or the queue's meta)
  ARGV[1] prefix   ARGV[2] '1': completed and failed jobs too
  ARGV[3] group tag whose moved and cancelled hashes to read ('' for none)
  ARGV[4] '1': the group's unparking set belongs to the first queue (the parked one)
  ARGV[5..] queue names
  Returns { TIME, group ({ tag, moved (flat), cancelled (flat), moving (flat) } or {}), queues (as readQueue) }
]]
local rcall = redis.call
local prefix, withFinished, tag = ARGV[1], ARGV[2] == '1', ARGV[3]
--- @include "includes/readQueue"
local group, unparking = {}, {}
if tag ~= '' then
  local base = prefix .. ':{' .. tag .. '}:'
  group = { tag, rcall('HGETALL', base .. 'moved'), rcall('HGETALL', base .. 'cancelled'), rcall('HGETALL', base .. 'moving') }
  if ARGV[4] == '1' then unparking = rcall('SMEMBERS', base .. 'unparking') end
end
local out = {}
for i = 5, #ARGV do
  out[#out + 1] = readQueue(prefix, ARGV[i], withFinished, i == 5 and unparking or {})
end
return { rcall('TIME'), group, out }
