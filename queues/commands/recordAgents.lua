--[[
  Records on each job hash which agent runs it, for a batch of jobs of one node
  queue (all keys share a hash slot when the queue name is hash-tagged).

  Fenced by the start count: BullMQ bumps `ats` each time a job is taken, so a
  host that was frozen past its lock (its run of the job superseded by another
  start) cannot overwrite the agent that recovered the task. A record arriving
  after a fast job completed still lands, since `ats` has not moved. A job
  already gone is skipped, never re-created.

  KEYS[i] job hash          (any number)
  ARGV[2i-1] agent id       ARGV[2i] the job's `ats` when this agent took it
  ARGV[2 * #KEYS + 1] the field to set

  Returns how many were recorded.
]]
local rcall = redis.call
local field = ARGV[2 * #KEYS + 1]
local n = 0
for i = 1, #KEYS do
  if rcall('HGET', KEYS[i], 'ats') == ARGV[2 * i] then
    rcall('HSET', KEYS[i], field, ARGV[2 * i - 1])
    n = n + 1
  end
end
return n
