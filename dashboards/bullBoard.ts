// Bull Board at /admin/queues: the intake queue, the dead-letter queue, the
// parked queue, every node queue the roster holds right now, and the consensus
// queue once a proposal has made it. The list is re-synced on each request, and
// Bull Board's page polls its API, so nodes appear and go without a reload.
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { Queue } from 'bullmq';
import express, { type Router } from 'express';
import { bullKey, CONSENSUS_QUEUE, PARKED_NODE } from '../queues/keys.ts';
import type { Coordinator } from '../src/coordinator/coordinator.ts';

export const BULL_BOARD_PATH = '/admin/queues';

/** How long the answer to "does the consensus queue exist yet" is reused. */
const CONSENSUS_CHECK_MS = 1000;

export interface MountedBoard {
  router: Router;
  /** Show exactly these queues (cheap when nothing changed). */
  sync(queues: readonly Queue[]): void;
}

/**
 * Bull Board as a page for createApp, showing the swarm's queues as they are at
 * each request. createApp parses a page's body first, within the API's byte and
 * depth bounds, so a bad one gets swarmq's JSON error rather than Bull Board's own.
 */
export function bullBoardRouter(coordinator: Coordinator): Router {
  const board = mountBullBoard([coordinator.intakeQueue]);
  const boardQueues = swarmQueues(coordinator);
  const router = express.Router();
  router.use(async (req, res, next) => {
    board.sync(await boardQueues());
    board.router(req, res, next);
  });
  return router;
}

export function mountBullBoard(initial: readonly Queue[]): MountedBoard {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(BULL_BOARD_PATH);
  const board = createBullBoard({ queues: initial.map((q) => new BullMQAdapter(q)), serverAdapter, options: { uiConfig: { boardTitle: 'swarmq' } } });
  let shown = initial.map((q) => q.name).join(',');
  return {
    router: serverAdapter.getRouter() as Router,
    sync(queues) {
      const names = queues.map((q) => q.name).join(',');
      if (names === shown) return;
      shown = names;
      board.replaceQueues(queues.map((q) => new BullMQAdapter(q)));
    },
  };
}

/**
 * The queues of a swarm as the board should show them now. Node queues come
 * from the router's snapshot, which follows the roster (re-read every
 * snapshot interval), so a node removed from the roster leaves the board too.
 */
export function swarmQueues(coordinator: Coordinator): () => Promise<Queue[]> {
  const { router } = coordinator;
  const prefix = coordinator.config.prefix;
  let consensus: Queue | undefined;
  let checkedAt = Number.NEGATIVE_INFINITY;
  const consensusQueue = async (): Promise<Queue | undefined> => {
    if (consensus) return consensus;
    if (Date.now() - checkedAt < CONSENSUS_CHECK_MS) return undefined;
    checkedAt = Date.now();
    // BullMQ writes one of these with the first job; an empty name is not worth a row.
    const present = await coordinator.commands.exists(...['meta', 'id', 'events'].map((s) => bullKey(prefix, CONSENSUS_QUEUE, s)));
    if (present > 0) {
      consensus = new Queue(CONSENSUS_QUEUE, { connection: coordinator.commands, prefix });
      consensus.on('error', () => {});
    }
    return consensus;
  };
  return async () => {
    const c = await consensusQueue();
    const nodes = (await router.freshNodeIds()).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
    return [coordinator.intakeQueue, coordinator.deadLetterQueue, router.queueFor(PARKED_NODE), ...(c ? [c] : []), ...nodes.map((id) => router.queueFor(id))];
  };
}
