// Queue and key naming. BullMQ keys are `<prefix>:<queue>:<suffix>`. The prefix
// stays plain (producers keep `prefix: 'swarmq'`); Redis Cluster hash tags sit
// inside the names instead, so every script's keys share one slot:
// - node queues `node-{g<k>}-n<seq>`: the nodes of one slot group (ten by seq,
//   a fixed fan-out, so a config change never renames a queue) share a slot,
//   and jobs only ever move between nodes of one group;
// - swarm-wide state `<prefix>:{swarm}:*`, a name no queue takes (queue names
//   here start with `node-`, `control-`, `consensus-` or `{`);
// - per-group state (moved tasks, tombstones, the fence) `<prefix>:{g<k>}:*`;
// - every other queue carries a tag too, since BullMQ's scripts touch several
//   keys of their queue at once: `{intake}`, `{dead-letter}`, `control-{<host>}`,
//   and `consensus-{swarm}`, beside the rounds' state it is read and written with.
// Swarms made before these names used `intake`, `dead-letter`, `control-<host>`
// and `consensus` (docs/cluster.md, "Upgrading").

/** Where producers in any language add tasks as plain BullMQ jobs: `new Queue('{intake}', { prefix })`. */
export const INTAKE_QUEUE = '{intake}';

/** Proposals, one job each (src/consensus/runtime); the queue exists from the first proposal on. In the swarm's slot, with the rounds' keys. */
export const CONSENSUS_QUEUE = 'consensus-{swarm}';

/** Tasks that failed their last attempt, each with its last error (one job per task, under the task's id). */
export const DEAD_LETTER_QUEUE = '{dead-letter}';

/** Where a task asked to wait for a capable agent sits until one joins (a queue with no workers, its own slot group). */
export const PARKED_NODE = 'parked';

/** Nodes per slot group. Fixed: changing it would rename queues that hold work. */
export const SLOT_GROUP_SIZE = 10;

const NODE_ID = /^n([1-9][0-9]*)$/;

/**
 * The highest node sequence number. Node ids (`n<seq>`) and queue names are
 * made in Lua (registerAgents) and in TypeScript (nodeQueueName); up to this
 * bound both print the number the same way, as plain digits (Lua 5.1's
 * tostring prints 1e14 as `1e+14`, and cjson keeps 14 digits), and the script
 * refuses to create a node past it. A million nodes ever made is far past any
 * fleet (10,000 agents fill 1,000), and it keeps bounded what walks every
 * sequence number, such as the checkpoint read of every node's queue.
 */
export const MAX_NODE_SEQ = 1_000_000;

/** The sequence number of node `n<seq>`, or undefined for any other id (the parked node). */
export function nodeSeqOf(nodeId: string): number | undefined {
  const m = NODE_ID.exec(nodeId);
  return m ? Number(m[1]) : undefined;
}

/** The slot group of a node: `g<⌊(seq−1)/10⌋+1>` for `n<seq>`, the id itself for any other (the parked node). */
export function slotGroupOf(nodeId: string): string {
  const seq = nodeSeqOf(nodeId);
  return seq !== undefined ? `g${Math.floor((seq - 1) / SLOT_GROUP_SIZE) + 1}` : nodeId;
}

export function nodeQueueName(nodeId: string): string {
  return `node-{${slotGroupOf(nodeId)}}-${nodeId}`;
}

/** The node whose queue `queue` is (`n<seq>` or the parked node), or undefined: not a node queue as nodeQueueName names them. */
export function nodeOfQueueName(queue: string): string | undefined {
  const m = /^node-\{[^}]+\}-(.+)$/.exec(queue);
  const node = m?.[1];
  return node !== undefined && (NODE_ID.test(node) || node === PARKED_NODE) && nodeQueueName(node) === queue ? node : undefined;
}

/**
 * The suffixes of a BullMQ queue's own keys, `<prefix>:<queue>:<suffix>`
 * (bullmq's classes/queue-keys.js and commands/*.lua; `priority` is the legacy
 * one; `metrics`, `repeat`, `de` and `dn` head keys with more parts). A job
 * whose id is one of these, or starts with one and ':', has its hash written
 * over that key.
 */
export const BULLMQ_QUEUE_KEY_SUFFIXES: ReadonlySet<string> = new Set([
  'active', 'wait', 'waiting-children', 'paused', 'id', 'delayed', 'prioritized', 'priority', 'stalled-check', 'stalled',
  'completed', 'failed', 'repeat', 'limiter', 'meta', 'events', 'pc', 'marker', 'de', 'dn', 'metrics',
]);

export function bullKey(prefix: string, queue: string, suffix: string): string {
  return `${prefix}:${queue}:${suffix}`;
}

export function swarmKeys(prefix: string) {
  const base = `${prefix}:{swarm}`;
  return {
    /** hash agentId → AgentRecord JSON */
    agents: `${base}:agents`,
    /** hash nodeId → NodeRecord JSON */
    nodes: `${base}:nodes`,
    nodeSeq: `${base}:node-seq`,
    /** set while `swarmq restore` writes (src/checkpoint/restore.ts): a swarm holding it was restored half-way */
    restoring: `${base}:restoring`,
    /** bumped on every roster change, so routers re-read agents only when it moves */
    rosterVersion: `${base}:roster-version`,
    /** the leading coordinator's published node loads (src/coordinator/loadsSnapshot.ts): what routers route on */
    loads: `${base}:loads`,
    /** the version of `loads`, expiring: gone means no coordinator publishes, so routers read the loads themselves */
    loadsVersion: `${base}:loads-version`,
    /** zset hostId → last heartbeat (ms) */
    hosts: `${base}:hosts`,
    /** hash hostId → CLIENT ID of its shared connection: the health monitor sees a host die with it */
    hostConnections: `${base}:host-connections`,
    /** hash hostId → when the host finished starting (ms): the monitor judges beat trends only after it */
    hostsReady: `${base}:hosts-ready`,
    /** hash hostId → when the health monitor failed it; the host rejoins when it sees its entry */
    failedHosts: `${base}:failed-hosts`,
    /**
     * hash hostId → JSON of its HTTP agents' endpoints that have stopped answering (src/health/endpointHealth.ts),
     * written by the host with its heartbeat when that changes, absent while every endpoint answers
     */
    endpointSilence: `${base}:endpoint-silence`,
    /** hash recoveryId → RecoveryRecord JSON */
    recoveries: `${base}:recoveries`,
    /** the leader's token (expiring), its owner, and the token counter */
    lease: `${base}:lease`,
    leaseOwner: `${base}:lease-owner`,
    leaseCounter: `${base}:lease-counter`,
    /** hash coordinatorId → membership expiry (ms, Redis's clock): the live coordinators partitions are shared among */
    coordinators: `${base}:coordinators`,
    /** hash coordinatorId → JSON of the partitions it holds, for GET /api/coordinators */
    coordinatorDetails: `${base}:coordinator-details`,
    /** the token floor of host partitions (a group's partitions use its fence) */
    partitionToken: `${base}:partition-token`,
    /** an agent host's partition lease (hash owner, token; expiring): the health monitor that watches and recovers it */
    hostPartition: (hostId: string) => `${base}:partition:host:${hostId}`,
    /** stream of swarm events (load:rebalanced, …) for dashboards */
    events: `${base}:events`,
    /** hash of counters */
    stats: `${base}:stats`,
    idempotency: (key: string) => `${base}:idem:${key}`,
    /** zset batchId → when (ms, Redis's clock) a batch still being fanned out may be taken over (src/coordinator/stagedBatch.ts) */
    batches: `${base}:batches`,
    /** a staged batch's task ids, JSON, until every one of them is in its node's queue */
    batch: (batchId: string) => `${base}:batch:${batchId}`,
    /** a batch's task ids, JSON (expiring with finished tasks): what DELETE /api/batches/:id cancels */
    batchTasks: (batchId: string) => `${base}:batch-tasks:${batchId}`,
    /** hash replicated taskId → CancelledRecord JSON: replicated tasks cancelled (their parent job removed) */
    cancelledReplicated: `${base}:cancelled-replicated`,
    /** hash taskId → StagedTask JSON: the tasks of staged batches not yet known to be in their node's queue */
    staged: `${base}:staged`,
    intakeTask: (intakeJobId: string) => `${base}:intake:${intakeJobId}`,
    /** hash key → its limits as JSON (src/keys/limits.ts): what `GET /api/keys` lists and routers read weights from; the key's own slot holds the copy its scripts enforce */
    keyLimits: `${base}:key-limits`,
    /** set of every key a task has carried (added once per key per submitting process), so keys without limits are listed too */
    keyNames: `${base}:key-names`,
    /** hash key → its budget as JSON (src/budgets/budget.ts): which keys a submit checks (src/budgets/keyBudgets.ts); the key's own slot holds the copy its scripts enforce */
    keyBudgets: `${base}:key-budgets`,
    /** hash `<type>|tokens`, `<type>|costUsd`, …: all-time usage of tasks without a key (their keyed peers' is in each key's slot) */
    usage: `${base}:usage`,
    /** a browser session (expiring), under the SHA-256 of its id so Redis never holds a usable cookie */
    session: (idHash: string) => `${base}:session:${idHash}`,
  };
}

/** A node's fair-order clocks for one priority band (groupKeys' `fair`), on its own: a keyed submit names it, and groupKeys builds every key of the group. */
export function fairClocksKey(prefix: string, nodeId: string, band: number): string {
  return `${prefix}:{${slotGroupOf(nodeId)}}:fair:${nodeId}:${band}`;
}

/** State kept beside the queues of one slot group, so scripts on those queues can touch it. */
export function groupKeys(prefix: string, nodeId: string) {
  const base = `${prefix}:{${slotGroupOf(nodeId)}}`;
  return {
    /** hash taskId → nodeId, for tasks that left the node their id names */
    moved: `${base}:moved`,
    /** hash taskId → CancelledRecord JSON */
    cancelled: `${base}:cancelled`,
    /** the highest leader token a move in this group has carried: older ones are refused */
    fence: `${base}:fence`,
    /** the group's partition lease (hash owner, token; expiring): the coordinator that balances it (the parked group's: that unparks) */
    partition: `${base}:partition`,
    /** parked tasks claimed for a node but not yet in its queue (parked group only) */
    unparking: `${base}:unparking`,
    /** set while a checkpoint on a Redis Cluster reads the swarm slot by slot: no task is claimed out of this group and no claim finished, so each move is seen whole (src/checkpoint/readCluster.ts) */
    crossMoveFreeze: `${base}:cross-move-freeze`,
    /** hash taskId → claim JSON: waiting tasks claimed out of this group for a node of another, not yet finished (claimCrossMove-7.lua) */
    moving: `${base}:moving`,
    /** zset `<claim>|<taskId>` by when (ms): tasks of a cross-group claim that landed here, kept an hour, so a claim finished twice adds each once (landCrossMove-10.lua) */
    arrivals: `${base}:arrivals`,
    /** a host's waker blocks on this beside the group's markers; a write to it ends the wait, so the next one covers the nodes that hibernated since */
    wakerBell: (hostId: string) => `${base}:waker-bell:${hostId}`,
    /** zset `<node> <taskId>` by deadline (ms): outputs awaiting approval in the group's node queues (awaitingApprovalKey of any of them) */
    awaitingApproval: `${base}:awaiting-approval`,
    /**
     * hash of the node's fair-order clocks for one priority band (fairTag-5.lua): `v` the band's virtual
     * time, and per key the start tag its next task gets. Beside the node's queue, so one MULTI adds a task and places it.
     */
    fair: (band: number) => fairClocksKey(prefix, nodeId, band),
    /** every node's fair clocks in the group (a pattern, for ACL rules) */
    fairAny: `${base}:fair:*`,
  };
}

/**
 * What a key (a tenant, a team, an API key's name) may carry: no hash-tag
 * braces, no glob characters, nothing a URL path or a Redis key would read
 * differently. The one rule for every way a key comes in (src/keys/limits.ts).
 */
export const KEY_NAME = /^[A-Za-z0-9_.@:-]{1,128}$/;

/**
 * A key's state, in a slot of its own (`<prefix>:{k:<key>}:…`), so one script
 * sees the whole of it wherever the key's tasks run: swarm-wide limits are
 * checked and counted in one atomic step (admitKeyed-6.lua), and its budget's
 * spend added and checked the same way (recordUsage-4.lua, checkBudget-5.lua).
 */
export function keyStateKeys(prefix: string, key: string) {
  if (!KEY_NAME.test(key)) throw new Error(`key ${JSON.stringify(key)} is not a key name (${KEY_NAME.source})`);
  const base = `${prefix}:{k:${key}}`;
  return {
    /** hash: maxActive, rateMax, ratePerMs, weight (what the scripts enforce; written with the swarm's key-limits entry) */
    limits: `${base}:limits`,
    /** zset task id → lease expiry (ms, Redis's clock): the key's running tasks, renewed while they run */
    active: `${base}:active`,
    /** zset `<task id>#<attempt>` → start time (ms): starts within the rate window, and reserved future ones */
    starts: `${base}:starts`,
    /** zset `<node>|<task id>` → when held (ms): tasks handed back because the key was at maxActive, released as slots free */
    held: `${base}:held`,
    /** zset task id → submit time (ms): submitted, not yet started (what swarmq_key_waiting counts) */
    waiting: `${base}:waiting`,
    /** hash: holdUntil (ms), holds, started, throttled:<reason> counters */
    state: `${base}:state`,
    // The key's budget (src/budgets, docs/budgets.md):
    /** hash: tokens, costUsd, period, queued, running (what its scripts enforce; written with the swarm's key-budgets entry) */
    budget: `${base}:budget`,
    /** hash: the current period's spend (start, end, period, tokens, inputTokens, outputTokens, costUsd, reports, t:<type>:…, alerted:<threshold>), expiring a period after its end */
    spent: `${base}:spent`,
    /** hash: the previous period's spend, as `spent` was when the period turned */
    spentPrev: `${base}:spent-prev`,
    /** hash: all-time usage by task type (`<type>|tokens`, …), what the metrics' counters export */
    usage: `${base}:usage`,
    /** zset `<node>|<task id>` → when: tasks waiting for the budget's period to reset, brought back when it is raised */
    budgetHeld: `${base}:budget-held`,
  };
}

/** The key's state keys, in the order its scripts take them. */
export function keyStateKeyList(prefix: string, key: string): string[] {
  const k = keyStateKeys(prefix, key);
  return [k.limits, k.active, k.starts, k.held, k.waiting, k.state];
}

/** The hash tag of a queue name (`g1` of `node-{g1}-n3`, `swarm` of `consensus-{swarm}`): the slot its keys share. */
export function hashTagOf(queue: string): string {
  const m = /\{([^}]+)\}/.exec(queue);
  if (!m) throw new Error(`queue ${queue} carries no hash tag`);
  return m[1]!;
}

/**
 * Tasks whose output awaits approval in `queue` (a node's queue, or the
 * consensus queue for replicated tasks), a sorted set by deadline in that
 * queue's slot (`<prefix>:{g<k>}:awaiting-approval`, `<prefix>:{swarm}:…`), so
 * the scripts that park and decide a task keep it in step (awaitApproval-9.lua,
 * decideApproval-8.lua). An index for listing only: the job hash says whether
 * a task awaits.
 */
export function awaitingApprovalKey(prefix: string, queue: string): string {
  return `${prefix}:{${hashTagOf(queue)}}:awaiting-approval`;
}

/** A task's member in its awaiting-approval index: its node (or the consensus queue) and its id. */
export function awaitingMember(node: string, id: string): string {
  return `${node} ${id}`;
}

/**
 * Set (expiring) once a staged batch's jobs of one slot, `tag`, are in their
 * queues, in the MULTI that adds them: a fan-out taken over skips that slot
 * (src/coordinator/stagedBatch.ts).
 */
export function batchAddedKey(prefix: string, tag: string, batchId: string): string {
  return `${prefix}:{${tag}}:batch-added:${batchId}`;
}

/**
 * A job hash field set on each replica of a replicated task added without a
 * flow (on a Redis Cluster), in the MULTI that adds it: the replica stays on
 * its node, as a flow's child does (moveJobs-12.lua reads it).
 */
export const REPLICA_OF_FIELD = 'sqReplicaOf';

/** Each agent host listens on its own control queue for spawn and retire requests; a slot of its own per host. */
export function controlQueueName(hostId: string): string {
  return `control-{${hostId}}`;
}
