// Where Redis ACLs cannot draw the line swarmq's roles would want. Data, not
// comments: docs/security-acl.md lists them (a test keeps the two in step),
// and the threat model (docs/security.md) builds on them. A pattern names the
// keys under the default prefix.

import type { AclRoleKind } from './aclRules.ts';

export interface AclLimitation {
  /** Stable id, cited by the docs and the threat model. */
  id: string;
  /** Roles whose users hold the access described. */
  roles: readonly AclRoleKind[];
  /** The keys (glob patterns, prefix `swarmq`) the access covers. */
  keys: readonly string[];
  /** What a user of those roles can do that it should not need to. */
  what: string;
  /** Why Redis cannot refuse it. */
  why: string;
}

export const ACL_LIMITATIONS: readonly AclLimitation[] = [
  {
    id: 'shared-roster',
    roles: ['host'],
    keys: ['swarmq:{swarm}:agents', 'swarmq:{swarm}:nodes', 'swarmq:{swarm}:node-seq', 'swarmq:{swarm}:roster-version'],
    what: "any host can rewrite or delete any agent's record (its consensus key included) and any node's",
    why: 'the roster is one hash per kind, written by the registerAgents/deregisterAgents scripts every host runs; ACL key patterns grant a whole key, never some of its fields',
  },
  {
    id: 'shared-liveness',
    roles: ['host'],
    keys: ['swarmq:{swarm}:hosts', 'swarmq:{swarm}:host-connections', 'swarmq:{swarm}:hosts-ready', 'swarmq:{swarm}:failed-hosts', 'swarmq:{swarm}:endpoint-silence'],
    what: "any host can beat for another, remove another's heartbeat or connection mark, clear another's failed mark, or mark another's HTTP endpoints silent or answering (its agents then show failed, or hide a silent endpoint; alerts only: nothing is recovered for an endpoint)",
    why: 'heartbeats are one sorted set and the marks one hash per kind, shared by all hosts (one read for the health monitor)',
  },
  {
    id: 'any-node-queue',
    roles: ['host', 'producer'],
    keys: ['swarmq:node-{*}-*:*'],
    what: "a host can take, finish, fail or delete jobs in any node's queue, not only the nodes its agents sit in; a producer can add to any node and rewrite waiting jobs",
    why: 'registerAgents seats a host in whichever node has room, so the nodes a host serves change at run time while its ACL user is fixed; and BullMQ scripts need write access to every key of a queue they touch',
  },
  {
    id: 'script-keys-are-written',
    roles: ['host'],
    keys: ['swarmq:{g*}:fence', 'swarmq:{g*}:moved', 'swarmq:{parked}:fence', 'swarmq:{parked}:moved'],
    what: "a host can raise a slot group's fence (the balancer's moves there are then refused until a new leader's token passes it) and rewrite where moved tasks went",
    why: 'a key named to EVALSHA needs read and write access whatever the script does with it; moveJobs names the fence and the moved hash, and hosts run it to empty a node they leave',
  },
  {
    id: 'shared-rounds',
    roles: ['host'],
    keys: ['swarmq:{swarm}:consensus:round:*:state', 'swarmq:{swarm}:consensus:round:*:decided', 'swarmq:{swarm}:consensus:round:*:rejected'],
    what: "any host can write any agent's persisted round state and decision entry, and the rejected-message counts, of any round",
    why: 'each round keeps one hash per kind for all participants; a field cannot be granted to one host. Only certified outcomes (docs/security.md) keep a forged entry from counting',
  },
  {
    id: 'consensus-queue-lists',
    roles: ['host', 'producer'],
    keys: ['swarmq:consensus-{swarm}:wait', 'swarmq:consensus-{swarm}:waiting-children', 'swarmq:consensus-{swarm}:active', 'swarmq:consensus-{swarm}:events'],
    what: "a host or producer can reorder, drop or re-queue proposals' entries in the consensus queue's lists (not the proposals' job hashes, which stay read-only to them)",
    why: "a replicated task's parent job lives in the consensus queue; BullMQ's scripts move it between that queue's lists when a replica finishes, and the lists are shared with proposals",
  },
  {
    id: 'shared-counters',
    roles: ['host'],
    keys: ['swarmq:{swarm}:stats', 'swarmq:{swarm}:replicas:*'],
    what: "a host can change the swarm's counters and any replicated task's replica seats",
    why: 'the counters are one hash all hosts add to; replica seats are one hash per task, claimed by whichever host runs a replica',
  },
  {
    id: 'dead-letter-writable',
    roles: ['host'],
    keys: ['swarmq:{dead-letter}:*'],
    what: 'a host can remove or change dead letters, not only add them',
    why: "adding a BullMQ job runs a script over the queue's keys, which needs write access to all of them",
  },
  {
    id: 'producer-namespaces',
    roles: ['producer'],
    keys: ['swarmq:{swarm}:idem:*', 'swarmq:{swarm}:batches', 'swarmq:{swarm}:batch:*', 'swarmq:{swarm}:staged', 'swarmq:{g*}:cancelled', 'swarmq:{swarm}:batch-tasks:*', 'swarmq:{swarm}:cancelled-replicated'],
    what: "one producer can take over another's idempotency keys, finish or drop its staged batches, and cancel any waiting or running task, batch or replicated task",
    why: 'producers share one user and these keys carry no producer identity; give producers that must not interfere separate swarms (prefixes)',
  },
  {
    id: 'approval-by-redis',
    roles: ['host', 'producer'],
    keys: ['swarmq:node-{*}-*:*', 'swarmq:consensus-{swarm}:r-*'],
    what: "a host or producer can approve or reject any output awaiting approval by writing the task's job hash (its decision fields), named as it pleases, though a producer's user may not run the decision script (SwarmClient.approve: it lacks the awaiting-approval indexes); a host can also complete a task with any output",
    why: "the decision lives in the task's job hash, and these roles need write access to their queues' job hashes for their own work; only the API checks the API token (docs/security.md, \"Approvals\")",
  },
  {
    id: 'key-state-shared',
    roles: ['host'],
    keys: ['swarmq:{k:*}:limits', 'swarmq:{k:*}:active', 'swarmq:{k:*}:starts', 'swarmq:{k:*}:state', 'swarmq:{k:*}:budget', 'swarmq:{k:*}:spent', 'swarmq:{k:*}:spent-prev', 'swarmq:{k:*}:usage', 'swarmq:{k:*}:budget-held'],
    what: "a host can change any key's limits and budget as its scripts read them, take or free any key's active slots and rate window, hold or release any key, and forge or erase any key's usage (spend a key's budget, or give it back): limits and budgets bind the hosts that run swarmq's scripts, not a process that writes Redis itself",
    why: 'admitKeyed, releaseKeyed, leaseKeyed (pools), recordUsage and checkBudget name the key\'s limits, budget, spend, slots and state, and every host runs them for every key; a key named to EVALSHA needs read and write access whatever the script does with it',
  },
  {
    id: 'fair-order-shared',
    roles: ['producer'],
    keys: ['swarmq:{g*}:fair:*', 'swarmq:{k:*}:waiting', 'swarmq:{k:*}:held'],
    what: "a producer can move any key's tasks ahead or behind in a node's fair order (its clocks), change any key's waiting count, and drop tasks held for a key's slot (they then wait for their recheck)",
    why: "the clocks are one hash per node and priority for all keys, which a producer's add of a keyed task moves in the same MULTI; cancelling a waiting task drops its waiting and held records",
  },
  {
    id: 'key-names-visible',
    roles: ['operator'],
    keys: ['*'],
    what: "the operator's SCAN lists every key name on the server, other prefixes' included (their values stay refused)",
    why: 'SCAN takes no key and ACL patterns do not filter its reply; checkpoint and restore need it. Other roles are refused SCAN, KEYS, RANDOMKEY and DBSIZE',
  },
  {
    id: 'users-per-server',
    roles: ['coordinator', 'operator', 'producer', 'host'],
    keys: [],
    what: 'users exist only on the servers they were created on',
    why: 'ACL SETUSER is not replicated: create the users on every node of a Cluster and on every replica (a promoted replica serves with its own users), as `swarmq acl --apply` does on a Cluster; Sentinels have their own users',
  },
];
