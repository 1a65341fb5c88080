// Queue and key naming. BullMQ keys are `<prefix>:<queue>:<suffix>`; swarm state
// lives beside them under `<prefix>:swarm:*`, a name no node queue can take.

export const INTAKE_QUEUE = 'intake';

/** Where a task asked to wait for a capable agent sits until one joins (queue `node-parked`, no workers). */
export const PARKED_NODE = 'parked';

export function nodeQueueName(nodeId: string): string {
  return `node-${nodeId}`;
}

export function bullKey(prefix: string, queue: string, suffix: string): string {
  return `${prefix}:${queue}:${suffix}`;
}

export function swarmKeys(prefix: string) {
  const base = `${prefix}:swarm`;
  return {
    /** hash agentId → AgentRecord JSON */
    agents: `${base}:agents`,
    /** hash nodeId → NodeRecord JSON */
    nodes: `${base}:nodes`,
    nodeSeq: `${base}:node-seq`,
    /** bumped on every roster change, so routers re-read agents only when it moves */
    rosterVersion: `${base}:roster-version`,
    /** zset hostId → last heartbeat (ms) */
    hosts: `${base}:hosts`,
    /** hash taskId → nodeId, for tasks that left the node their id names */
    moved: `${base}:moved`,
    /** hash taskId → CancelledRecord JSON */
    cancelled: `${base}:cancelled`,
    /** the leader's fencing token (expiring), its owner, and the token counter */
    lease: `${base}:lease`,
    leaseOwner: `${base}:lease-owner`,
    leaseCounter: `${base}:lease-counter`,
    /** stream of swarm events (load:rebalanced, …) for dashboards */
    events: `${base}:events`,
    /** hash of counters */
    stats: `${base}:stats`,
    idempotency: (key: string) => `${base}:idem:${key}`,
    intakeTask: (intakeJobId: string) => `${base}:intake:${intakeJobId}`,
  };
}

export type SwarmKeys = ReturnType<typeof swarmKeys>;

/** Each agent host listens on its own control queue for spawn and retire requests. */
export function controlQueueName(hostId: string): string {
  return `control-${hostId}`;
}
