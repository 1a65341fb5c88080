// The Redis ACL rules of each role of a swarm: which keys, commands and
// channels a process of that role needs, and no more where Redis can tell the
// difference. Pure: it names keys with queues/keys.ts and returns rule words
// as `ACL SETUSER` takes them (Redis 7 syntax: `~` read-write, `%R~` read
// only, selectors in parentheses). Where Redis cannot draw a line the design
// needs, the line is recorded in ACL_LIMITATIONS, which docs/security-acl.md lists.
import { CONSENSUS_QUEUE, controlQueueName, DEAD_LETTER_QUEUE, groupKeys, INTAKE_QUEUE, keyStateKeys, swarmKeys } from '../../queues/keys.ts';
import { HOST_ID } from '../agents/spec.ts';

export const ACL_ROLE_KINDS = ['coordinator', 'operator', 'producer', 'host'] as const;
export type AclRoleKind = (typeof ACL_ROLE_KINDS)[number];
export type AclRole = { kind: Exclude<AclRoleKind, 'host'> } | { kind: 'host'; hostId: string };

const PREFIX = /^[A-Za-z0-9_-]+$/;

/** The Redis user of a role: `<prefix>-coordinator`, `<prefix>-host-<id>`, … One swarm's users never collide with another prefix's. */
export function aclUserName(prefix: string, role: AclRole): string {
  return role.kind === 'host' ? `${prefix}-host-${role.hostId}` : `${prefix}-${role.kind}`;
}

/**
 * Commands every role may run. Data commands by category, minus everything
 * Redis calls dangerous or admin (FLUSHALL, KEYS, CONFIG, DEBUG, CLIENT KILL,
 * SORT, …); SCAN, RANDOMKEY and DBSIZE too, since key patterns do not filter
 * what they reveal of other swarms' keys, and MOVE and COPY, which reach other
 * databases. Then what the clients need by name:
 * INFO (ioredis's ready check, BullMQ's version check, WAIT's replica count),
 * TIME (Redis's clock), WAIT (replicated durability), and CLUSTER SLOTS /
 * INFO and ASKING for a Redis Cluster client. Scripts by name only: SCRIPT
 * FLUSH and FUNCTION would reach every user's scripts.
 */
const BASE_COMMANDS: readonly string[] = [
  '-@all', '+@read', '+@write', '+@transaction', '+@connection',
  '-@dangerous', '-@admin', '-scan', '-randomkey', '-dbsize', '-move', '-copy',
  '+info', '+time', '+wait', '+asking', '+cluster|slots', '+cluster|shards', '+cluster|info',
  '-function', '+eval', '+evalsha', '+eval_ro', '+evalsha_ro', '+script|load', '+script|exists',
];

/** BullMQ's keys of one queue, and of its jobs: `<prefix>:<queue>:*`. */
function queueKeys(prefix: string, queue: string): string {
  return `${prefix}:${queue}:*`;
}

/**
 * The keys of the consensus queue a replicated task's flow touches: a host
 * finishing a replica moves the task's parent job (`r-…`) on, and a producer
 * adds it. Not the proposals' jobs (`p-…`), which hosts only read.
 */
const PARENT_QUEUE_SUFFIXES = ['wait', 'paused', 'active', 'prioritized', 'delayed', 'completed', 'failed', 'waiting-children', 'marker', 'events', 'pc', 'meta', 'id', 'stalled', 'limiter'] as const;

function replicatedTaskKeys(prefix: string): string[] {
  return [`~${prefix}:${CONSENSUS_QUEUE}:r-*`, ...PARENT_QUEUE_SUFFIXES.map((s) => `~${prefix}:${CONSENSUS_QUEUE}:${s}`)];
}

/** The keys of a node queue of any slot group, the parked node's included (`node-{g<k>}-n<seq>`, `node-{parked}-parked`). */
function nodeQueues(prefix: string): string {
  return `${prefix}:node-{*}-*:*`;
}

/** Per-group state of every slot group: `<prefix>:{g<k>}:…` and the parked group's `<prefix>:{parked}:…`. */
function everyGroup(prefix: string, key: (g: ReturnType<typeof groupKeys>) => string): string[] {
  return [key(groupKeys(prefix, 'n1')).replace(`{g1}`, '{g*}'), key(groupKeys(prefix, 'parked'))];
}

/** One state key of every key (tenant, team, API key) of the swarm: `<prefix>:{k:*}:<part>` (keys.ts keyStateKeys). */
function everyKey(prefix: string, part: keyof ReturnType<typeof keyStateKeys>): string {
  return keyStateKeys(prefix, 'x')[part].replace('{k:x}', '{k:*}');
}

function coordinatorRules(prefix: string): string[] {
  // The coordinator is the swarm's own upkeep: it routes, balances, recovers,
  // runs consensus rounds and serves the API, over every key of the swarm.
  // CLIENT LIST: the health monitor sees a host's connection die.
  return [`~${prefix}:*`, ...BASE_COMMANDS, '+client|list'];
}

function operatorRules(prefix: string): string[] {
  // `swarmq status`, `checkpoint` and `restore`: reads and rebuilds every key
  // of the swarm. SCAN to find them (checkpoint, restore's emptiness check).
  // `swarmq approve` / `reject` too: deciding on an output is an operator's act,
  // so a producer's user is not given the awaiting-approval indexes the decision
  // script names (which keeps no determined producer out: see approval-by-redis).
  return [`~${prefix}:*`, ...BASE_COMMANDS, '+scan', '+dbsize'];
}

function producerRules(prefix: string): string[] {
  const s = swarmKeys(prefix);
  return [
    // Plain BullMQ producers: the intake queue.
    `~${queueKeys(prefix, INTAKE_QUEUE)}`,
    // SwarmClient routes itself and adds each task to its node's queue in one round trip.
    `~${nodeQueues(prefix)}`,
    ...replicatedTaskKeys(prefix),
    // What routing reads: the roster, heartbeats and the leader's published loads.
    ...[s.agents, s.nodes, s.hosts, s.rosterVersion, s.loads, s.loadsVersion, s.failedHosts, s.events].map((k) => `%R~${k}`),
    // Where a task is now (moved by the balancer), and cancelling a waiting one.
    ...everyGroup(prefix, (g) => g.moved).map((k) => `%R~${k}`),
    ...everyGroup(prefix, (g) => g.cancelled).map((k) => `~${k}`),
    // Idempotency keys and batches staged for fan-out (finished by the coordinator if the producer dies).
    `~${s.idempotency('*')}`, `~${s.batches}`, `~${s.batch('*')}`, `~${s.staged}`, `~${prefix}:{*}:batch-added:*`,
    // Cancelling a batch or a replicated task (DELETE /api/batches/:id, swarm.cancel of an r- id).
    `~${s.batchTasks('*')}`, `~${s.cancelledReplicated}`,
    // Keyed tasks: placed in their node's fair order (addKeyed-13.lua, fairTag-5.lua), counted as waiting (and no longer, or held, when cancelled);
    // keys' weights read, each key named once. Not a key's limits, slots or holds.
    ...everyGroup(prefix, (g) => g.fairAny).map((k) => `~${k}`),
    `~${everyKey(prefix, 'waiting')}`, `~${everyKey(prefix, 'held')}`,
    `%R~${s.keyLimits}`, `~${s.keyNames}`,
    // Budgets: which keys have one, and a spent key's figures, read before a keyed submit (readBudget-4.lua). Not written.
    `%R~${s.keyBudgets}`, ...(['budget', 'spent', 'usage', 'budgetHeld'] as const).map((part) => `%R~${everyKey(prefix, part)}`),
    ...BASE_COMMANDS,
  ];
}

function hostRules(prefix: string, hostId: string): string[] {
  if (!HOST_ID.test(hostId)) throw new Error(`host id "${hostId}" may hold only letters, digits, "_", "." and "-" (1 to 200)`);
  const s = swarmKeys(prefix);
  const round = `${prefix}:{swarm}:consensus:round:*`;
  const inbox = (h: string) => `${prefix}:{swarm}:consensus:inbox:${h}`;
  return [
    // Work: node queues (a host serves whichever nodes registerAgents seats its agents in), its own control queue.
    `~${nodeQueues(prefix)}`,
    `~${queueKeys(prefix, controlQueueName(hostId))}`,
    `~${queueKeys(prefix, DEAD_LETTER_QUEUE)}`,
    // Replicated tasks: finishing a replica moves its parent job on. Proposals: read their spec.
    ...replicatedTaskKeys(prefix),
    `%R~${prefix}:${CONSENSUS_QUEUE}:p-*`,
    // Seats (registerAgents/deregisterAgents), heartbeat and liveness (its endpoints' silence too), replica seats, counters.
    ...[s.agents, s.nodes, s.nodeSeq, s.rosterVersion, s.hosts, s.hostConnections, s.hostsReady, s.failedHosts, s.endpointSilence, s.stats, `${prefix}:{swarm}:replicas:*`].map((k) => `~${k}`),
    ...[s.loads, s.loadsVersion].map((k) => `%R~${k}`),
    // Rounds: agents' persisted state and decisions, rejected-message counts; its own replay windows.
    `~${round}:state`, `~${round}:decided`, `~${round}:rejected`, `~${round}:replay:${hostId}`,
    `~${inbox(hostId)}`,
    // Moving waiting tasks out of a node it left empty (moveJobs names the group's moved hash and fence).
    ...everyGroup(prefix, (g) => g.moved).map((k) => `~${k}`),
    ...everyGroup(prefix, (g) => g.fence).map((k) => `~${k}`),
    ...everyGroup(prefix, (g) => g.wakerBell(hostId)).map((k) => `~${k}`),
    // Whether a task running here was cancelled (the control-queue notice alone cancels nothing).
    ...everyGroup(prefix, (g) => g.cancelled).map((k) => `%R~${k}`),
    // Parking a finished output to await approval indexes it in its group (awaitApproval-9.lua).
    ...everyGroup(prefix, (g) => g.awaitingApproval).map((k) => `~${k}`),
    // Keyed tasks' limits at start and end: every key's slots, starts, held tasks, waiting records, holds, and its limits
    // (named to the scripts that read them, so written: `key-state-shared`). Not the swarm's list of keys' limits.
    ...(['limits', 'active', 'starts', 'held', 'waiting', 'state'] as const).map((part) => `~${everyKey(prefix, part)}`),
    // Budgets: usage added to its key's spend and totals, a spent key's starts checked (recordUsage-4.lua, checkBudget-5.lua),
    // so every key's budget and spend are named to its scripts (`key-state-shared`); usage of tasks without a key; which keys have a budget.
    ...(['budget', 'spent', 'spentPrev', 'usage', 'budgetHeld'] as const).map((part) => `~${everyKey(prefix, part)}`),
    `~${s.usage}`, `%R~${s.keyBudgets}`,
    ...BASE_COMMANDS,
    // Other hosts' and drivers' inboxes, and the swarm's event stream: add entries, nothing else.
    `(~${inbox('*')} ~${s.events} resetchannels -@all +xadd)`,
  ];
}

/** The rule words of a role's user, after `reset on` and its password: keys, commands, selectors; no pub/sub channel. */
export function aclRules(prefix: string, role: AclRole): string[] {
  if (!PREFIX.test(prefix)) throw new Error(`prefix "${prefix}" may hold only letters, digits, "_" and "-"`);
  const rules = ((): string[] => {
    switch (role.kind) {
      case 'coordinator': return coordinatorRules(prefix);
      case 'operator': return operatorRules(prefix);
      case 'producer': return producerRules(prefix);
      case 'host': return hostRules(prefix, role.hostId);
    }
  })();
  // No role publishes or subscribes: swarm events travel on a stream.
  return ['resetchannels', ...rules];
}
