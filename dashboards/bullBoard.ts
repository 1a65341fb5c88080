// Bull Board at /admin/queues with the intake queue and every node queue; new
// nodes appear as the router learns of them.
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import type { Router } from 'express';

export const BULL_BOARD_PATH = '/admin/queues';

export interface MountedBoard {
  router: Router;
  /** Show exactly these queues (cheap when nothing changed). */
  sync(queues: readonly Queue[]): void;
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
