--[[
  Leadership among coordinators: a lease with a fencing token. The holder
  renews it; when it lapses, the next coordinator to ask gets it with a new,
  larger token. The token alone is stored under KEYS[1], so scripts that must
  only run for the current leader (moveJobs) compare it in one GET.

  KEYS[1] lease (the current token, expiring)   KEYS[2] lease owner (expiring with it)
  KEYS[3] token counter
  ARGV[1] candidate id   ARGV[2] lease ms

  Returns the candidate's token if it holds the lease now, else 0.
]]
local rcall = redis.call
local owner = rcall('GET', KEYS[2])
if owner == ARGV[1] and rcall('EXISTS', KEYS[1]) == 1 then
  rcall('PEXPIRE', KEYS[1], ARGV[2])
  rcall('PEXPIRE', KEYS[2], ARGV[2])
  return tonumber(rcall('GET', KEYS[1]))
end
if rcall('EXISTS', KEYS[1]) == 1 then return 0 end
local token = rcall('INCR', KEYS[3])
rcall('SET', KEYS[1], token, 'PX', ARGV[2])
rcall('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
return token
