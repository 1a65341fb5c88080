// HTTP for consensus proposals: POST /api/proposals queues one (202 { id });
// GET /api/proposals/:id tells where it is and, once final, what was decided.
// Bodies are checked by Consensus.submit with zod before anything is written.
import { Router, type Request } from 'express';
import type { Consensus } from '../consensus/runtime/consensus.ts';
import { SwarmError } from '../errors.ts';

export function proposalsRouter(consensus: Consensus): Router {
  const router = Router();
  router.post('/', async (req: Request, res) => {
    if (!req.is('application/json')) throw new SwarmError('unsupported_media_type', `send the body as application/json (got ${req.headers['content-type'] ?? 'no content type'})`);
    res.status(202).json(await consensus.submit(req.body));
  });
  router.get('/:id', async (req, res) => {
    const view = await consensus.get(req.params.id);
    if (!view) throw new SwarmError('not_found', `no proposal ${req.params.id}`);
    res.json(view);
  });
  return router;
}
