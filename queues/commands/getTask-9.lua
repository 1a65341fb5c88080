--[[
  Reads a task's job hash and its state in one step, so the two agree.

  KEYS[1] job hash
  KEYS[2] wait        KEYS[3] active      KEYS[4] paused (lists)
  KEYS[5] prioritized KEYS[6] delayed     KEYS[7] completed
  KEYS[8] failed      KEYS[9] waiting-children (sorted sets)
  ARGV[1] job id

  Returns nil when there is no such job, else { state, field, value, ... }.
]]
local rcall = redis.call
local fields = rcall('HGETALL', KEYS[1])
if #fields == 0 then return nil end
local id = ARGV[1]
local state = 'unknown'
if rcall('ZSCORE', KEYS[7], id) then state = 'completed'
elseif rcall('ZSCORE', KEYS[8], id) then state = 'failed'
elseif rcall('ZSCORE', KEYS[6], id) then state = 'delayed'
elseif rcall('ZSCORE', KEYS[5], id) or rcall('ZSCORE', KEYS[9], id) then state = 'waiting'
elseif rcall('LPOS', KEYS[3], id) then state = 'active'
elseif rcall('LPOS', KEYS[2], id) or rcall('LPOS', KEYS[4], id) then state = 'waiting'
end
table.insert(fields, 1, state)
return fields
