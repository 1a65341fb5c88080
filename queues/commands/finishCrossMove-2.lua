--[[
  Step 3 of a move between slot groups: once the claim has landed
  (landCrossMove-10.lua), its record and the job's old hash go from the source
  group. Only records of this claim: the same task may have been claimed again
  since (it came back and is leaving once more), and that claim is not ours.

  KEYS[1] group moving   KEYS[2] group cross-move freeze (set while a Cluster
  checkpoint reads: finish nothing, the claim stays for a later round)
  ARGV[1] source job key prefix   ARGV[2] claim id   ARGV[3..] job ids

  Returns the number of claim records removed.
]]
local rcall = redis.call
if rcall('EXISTS', KEYS[2]) == 1 then return 0 end
local done = 0
for i = 3, #ARGV do
  local id = ARGV[i]
  local rec = rcall('HGET', KEYS[1], id)
  if rec and cjson.decode(rec).claim == ARGV[2] then
    rcall('HDEL', KEYS[1], id)
    rcall('DEL', ARGV[1] .. id, ARGV[1] .. id .. ':logs')
    done = done + 1
  end
end
return done
