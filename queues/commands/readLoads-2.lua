--[[
  A router's read of the published node loads, in one command whatever the
  size of the swarm: the body only when its version moved, so an idle swarm
  costs each router one short reply per interval.

  KEYS[1] loads-version (expiring)   KEYS[2] loads (the body)
  ARGV[1] the version the caller holds ('' for none)

  Returns false when no version is published (no coordinator leads, or it
  stopped publishing); {version} when the caller's is current; else
  {version, body}.
]]
local version = redis.call('GET', KEYS[1])
if not version then return false end
if version == ARGV[1] then return {version} end
local body = redis.call('GET', KEYS[2])
if not body then return false end
return {version, body}
