--[[
  The swarm's slot, read for a checkpoint on a Redis Cluster in one step (the
  other slots are read by readSlot-1; src/checkpoint/readCluster.ts orders the
  reads): the roster, the staged tasks of batches still being fanned out, the
  consensus queue and its rounds. Every key it touches is `<prefix>:{swarm}:*`
  or the consensus queue's, all in the slot of KEYS[1].
  KEYS[1] the node sequence
  ARGV[1] prefix   ARGV[2] '1': completed and failed jobs too
  ARGV[3] consensus queue name   ARGV[4] a proposal's job name   ARGV[5] round keys' head
  ARGV[6] the staged tasks' hash
  Returns { TIME, node-seq, agents (flat), nodes (flat), staged (flat: task id, JSON), consensus (as readConsensus) }
]]
local rcall = redis.call
local prefix, withFinished = ARGV[1], ARGV[2] == '1'
local swarm = prefix .. ':{swarm}:'
--- @include "includes/readQueue"
--- @include "includes/readConsensus"
local time = rcall('TIME')
local nodeSeq = tonumber(rcall('GET', KEYS[1]) or '0') or 0
return {
  time, nodeSeq, rcall('HGETALL', swarm .. 'agents'), rcall('HGETALL', swarm .. 'nodes'), rcall('HGETALL', ARGV[6]),
  readConsensus(prefix, ARGV[3], ARGV[4], ARGV[5], withFinished),
}
