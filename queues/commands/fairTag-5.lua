--[[
  Puts a task that carries a key in its place in its node's fair order: start-
  time fair queueing over BullMQ's priorities (src/keys/fairOrder.ts says why).
  Runs in the MULTI that adds the job (queues/fairTag.ts), so no worker sees it
  before it is placed.

  BullMQ scores a prioritized job `priority * 2^32 + counter`. A keyed task keeps
  its priority (its band; 0 when it names none) and gets, instead of BullMQ's
  counter, a start tag in the upper half of the band's counters:
    tag = max(the key's next tag, the band's virtual time)
    the key's next tag = tag + inc (inc = 1000 / the key's weight)
  where the virtual time is the tag of the band's first waiting keyed task. So a
  key with 10,000 tasks waiting has tags far ahead, and a key that just came
  gets tags at the head, interleaved by weight. Tasks without a key keep
  BullMQ's counter, in the lower half: within a band they go first (the counter
  restarts whenever the queue's prioritized set empties, so it stays far below).
  When the band has no keyed task waiting, its clocks start again from 0.

  KEYS[1] the job hash        KEYS[2] the queue's wait list
  KEYS[3] the queue's prioritized zset
  KEYS[4] the node's fair clocks for the band (hash: v -> virtual time, <key> -> the key's next tag)
  KEYS[5] the key's waiting zset, when it is on the same server and ARGV[5] is 1 (a single Redis); else any key of
          the node's slot, unused (on a Cluster the key's slot differs, and the caller records the task as waiting itself)
  ARGV[1] job id  ARGV[2] key  ARGV[3] inc (integer >= 1)  ARGV[4] band (the job's priority, 0 for none)
  ARGV[5] 1: record the task as waiting for its key in KEYS[5] (ms ARGV[6]) once placed, saving a command and a write

  Returns the tag, or -1: placed before (an add of an id that exists), or -2:
  the job is not where a fresh add puts it (gone, or taken already): left as
  is, its key recorded (when the placing ran after the add, alone).
]]
local rcall = redis.call
--- @include "includes/fairPlace"
return fairPlace(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5] == '1', ARGV[6], false)
