// Checkpoint data for tests that build a checkpoint by hand: the smallest valid
// pieces, each field overridable, so a test states only what it is about.
import { CHECKPOINT_ABOUT, CHECKPOINT_FORMAT, CHECKPOINT_VERSION, type Checkpoint, type UnfinishedTask } from '../../src/checkpoint/format.ts';
import { nodeQueueName } from '../../queues/keys.ts';

/** A waiting task on n1's queue, one attempt, never started. */
export const unfinishedTask = (over: Partial<UnfinishedTask> = {}): UnfinishedTask => ({
  queue: nodeQueueName('n1'),
  id: 'n1.abc',
  state: 'waiting',
  name: 'work',
  data: { payload: null },
  opts: { attempts: 1 },
  timestamp: 1_000,
  priority: 0,
  attemptsMade: 0,
  attemptsStarted: 0,
  stalledCounter: 0,
  fields: {},
  ...over,
});

/** A checkpoint of a swarm with nothing in it: no agents, nodes, tasks or proposals. */
export const emptyCheckpoint = (over: Partial<Checkpoint> = {}): Checkpoint => ({
  format: CHECKPOINT_FORMAT,
  version: CHECKPOINT_VERSION,
  createdAt: 1_000,
  prefix: 'swarmq',
  about: CHECKPOINT_ABOUT,
  includesFinished: false,
  roster: { nodeSeq: 0, agents: [], nodes: [] },
  queues: [],
  groups: [],
  idempotency: [],
  tasks: [],
  finished: [],
  consensus: { paused: false, proposals: [], rounds: [] },
  keys: [],
  ...over,
});
