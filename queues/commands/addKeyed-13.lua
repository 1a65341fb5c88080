--[[
  Adds a task that carries a key and places it in its node's fair order in one
  script: BullMQ's own add (its addStandardJob command, put in here unchanged
  when the commands are loaded: queues/scripts.ts), then the placing
  (includes/fairPlace.lua), and on one Redis the key's waiting record. One
  command instead of a MULTI of two scripts, for a keyed task with no priority
  (queues/addKeyed.ts; one with a priority keeps the MULTI, src/keys/keyedAdd.ts).
  Atomic like the MULTI: no worker sees the job before it is placed.

  KEYS[1..9] BullMQ's addStandardJob keys (wait, paused, meta, id, completed, delayed, active, events, marker)
  KEYS[10] the job hash  KEYS[11] the queue's prioritized zset  KEYS[12] the node's fair clocks for band 0
  KEYS[13] the key's waiting zset when ARGV[7] is 1 (one Redis), else any key of the node's slot, unused
  ARGV[1..3] BullMQ's addStandardJob arguments (packed args, data, packed options)
  ARGV[4] job id  ARGV[5] key  ARGV[6] inc  ARGV[7] 1: record as waiting (ms ARGV[8])

  Returns { job id, or BullMQ's negative error code; the tag, -1 added before, -2 left where the add put it }.
]]
local rcall = redis.call
--- @include "includes/fairPlace"
local function bullmqAdd(KEYS, ARGV)
--- @bullmq "addStandardJob"
end
-- An idle node (its wait list and prioritized set empty) and a new job: after the add the job is alone in the wait
-- list and no keyed task waits, so it is first in any order and stays where the add puts it. One command asks all
-- three; otherwise the placing asks the wait list and the band's head after the add.
local idle = rcall('EXISTS', KEYS[1], KEYS[11], KEYS[10]) == 0
local added = bullmqAdd({ KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9] }, { ARGV[1], ARGV[2], ARGV[3] })
if type(added) == 'number' and added < 0 then return { added, -2 } end
-- The add returns another id when BullMQ took the job for one it had (deduplication): then it is placed as below.
if idle and added == ARGV[4] then
  if ARGV[7] == '1' then noteKeyWaiting(KEYS[13], ARGV[8], ARGV[4]) end
  return { added, 0 }
end
local tag = fairPlace(KEYS[10], KEYS[1], KEYS[11], KEYS[12], KEYS[13], ARGV[4], ARGV[5], tonumber(ARGV[6]), 0, ARGV[7] == '1', ARGV[8], true)
return { added, tag }
