--[[
  One partition's lease (a slot group, the parked queue, or an agent host):
  held by one coordinator at a time, with a fencing token.

  A coordinator asks to claim the partitions the assignment names it for, and
  releases the ones it holds but is no longer named for (another coordinator
  joined), so a handover takes one round. A lease another coordinator holds is
  left alone until it is released or expires: a dead coordinator's partitions
  are taken once their leases run out.

  A new holder's token is one above the partition's token floor, and the floor
  is raised to it in the same step. For a slot group the floor is the group's
  fence, the key every move in the group checks (checkFence.lua): the moment a
  new owner holds the lease, the previous one's moves are refused there.

  KEYS[1] the lease (hash: owner, token; expiring)   KEYS[2] the token floor
  ARGV[1] coordinator id   ARGV[2] lease ms   ARGV[3] 'claim' or 'release'

  Returns { token (0 unless the caller holds the lease now), holder ('' if none), ms left }.
]]
local rcall = redis.call
local holder = rcall('HGET', KEYS[1], 'owner')
if holder == ARGV[1] then
  if ARGV[3] == 'release' then
    rcall('DEL', KEYS[1])
    return { 0, '', 0 }
  end
  rcall('PEXPIRE', KEYS[1], ARGV[2])
  return { tonumber(rcall('HGET', KEYS[1], 'token')), holder, tonumber(ARGV[2]) }
end
if holder then return { 0, holder, rcall('PTTL', KEYS[1]) } end
if ARGV[3] ~= 'claim' then return { 0, '', 0 } end
local token = tonumber(rcall('GET', KEYS[2]) or '0') + 1
rcall('SET', KEYS[2], token)
rcall('HSET', KEYS[1], 'owner', ARGV[1], 'token', token)
rcall('PEXPIRE', KEYS[1], ARGV[2])
return { token, ARGV[1], tonumber(ARGV[2]) }
