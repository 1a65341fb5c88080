// The approval routes (src/tasks/approval.ts), mounted at /api behind the API
// token like every route there: POST /tasks/:id/approve, POST
// /tasks/:id/reject, GET /approvals. Who decided is what the auth layer knows
// of the caller (auth.ts callerOf) and its address; a `by` in the body is
// recorded as the caller's own word.
import express, { type Request, type Response, type Router } from 'express';
import { z } from 'zod';
import type { TaskRouter } from '../coordinator/router.ts';
import { APPROVALS_LIMIT } from '../coordinator/approvals.ts';
import { SwarmError } from '../errors.ts';
import { approveBodySchema, rejectBodySchema, type Approver } from '../tasks/approval.ts';
import { issuesOf } from '../validation.ts';
import { callerOf } from './auth.ts';
import { parseQuery } from './listQuery.ts';

const approvalsQuerySchema = z
  .object({
    limit: z.coerce
      .number({ error: 'limit: a whole number' })
      .int('limit: a whole number')
      .min(1, 'limit: at least 1')
      .max(APPROVALS_LIMIT.max, `limit: at most ${APPROVALS_LIMIT.max}`)
      .default(APPROVALS_LIMIT.default),
  })
  .strict();

/** The body as its schema reads it; none at all (no content type) is `{}`, which approve accepts and reject refuses. */
function bodyOf<S extends z.ZodType>(schema: S, req: Request, route: string): z.output<S> {
  const length = Number(req.get('content-length') ?? '0');
  if ((length > 0 || req.get('transfer-encoding')) && !req.is('application/json')) {
    throw new SwarmError('unsupported_media_type', `send the body of ${route} as application/json (got ${req.get('content-type') ?? 'no content type'})`);
  }
  const parsed = schema.safeParse(req.body ?? {});
  if (parsed.success) return parsed.data;
  const details = issuesOf(parsed.error);
  throw new SwarmError('invalid_request', `bad body for ${route}: ${details.map((d) => `${d.path}: ${d.message}`).join('; ')}`, details);
}

function approverOf(req: Request, res: Response, name: string | undefined): Approver {
  const caller = callerOf(res);
  return {
    via: caller?.via ?? 'open',
    ...(caller?.via === 'session' ? { session: caller.session } : {}),
    ...(req.ip ? { address: req.ip.slice(0, 128) } : {}),
    ...(name !== undefined ? { name } : {}),
  };
}

const roundSchema = z.int().min(1).optional();

export function approvalRoutes(router: TaskRouter): Router {
  const r = express.Router();
  // `round`: the output the caller saw (the dashboard sends it), so a decision never lands on one that came since.
  const approve = approveBodySchema.extend({ round: roundSchema });
  const reject = rejectBodySchema.extend({ round: roundSchema });
  r.post('/tasks/:id/approve', async (req, res) => {
    const body = bodyOf(approve, req, 'POST /api/tasks/:id/approve');
    res.json(await router.decide(req.params.id, { decision: 'approved', by: approverOf(req, res, body.by), ...(body.round !== undefined ? { round: body.round } : {}) }));
  });
  r.post('/tasks/:id/reject', async (req, res) => {
    const body = bodyOf(reject, req, 'POST /api/tasks/:id/reject');
    res.json(
      await router.decide(req.params.id, {
        decision: 'rejected',
        by: approverOf(req, res, body.by),
        reason: body.reason,
        retry: body.retry === true,
        ...(body.round !== undefined ? { round: body.round } : {}),
      }),
    );
  });
  r.get('/approvals', async (req, res) => {
    const q = parseQuery(approvalsQuerySchema, req.query, 'GET /api/approvals');
    res.json(await router.awaitingApproval(q.limit));
  });
  return r;
}
