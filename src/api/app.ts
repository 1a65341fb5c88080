// The HTTP API (express 5). Every body is checked with zod before anything is
// written; every error is JSON `{ error: { code, message, details? } }`.
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { z } from 'zod';
import { readRecoveries } from './recoveriesView.ts';
import type { Coordinator } from '../coordinator/coordinator.ts';
import { isCrossSlot, isRedisDown, SwarmError } from '../errors.ts';
import { checkFieldDepth } from '../tasks/jsonDepth.ts';
import type { Logger } from '../log.ts';
import { retireAgent, spawnAgents } from './agentRequests.ts';
import { eventsRoute } from './eventsRoute.ts';
import { taskEventsRoute } from './taskEventsRoute.ts';
import { tokenAuth } from './auth.ts';
import { webGuard } from './webGuard.ts';
import { SwarmMetrics } from '../metrics/swarmMetrics.ts';
import { swarmRoutes } from './swarmRoutes.ts';
import { keysRoutes } from './keysRoutes.ts';
import type { SwarmSource } from './swarmSource.ts';
import { Consensus } from '../consensus/runtime/consensus.ts';
import { proposalsRouter } from './proposals.ts';
import { coordinatorsView } from '../coordinator/coordinatorsView.ts';
import { emptyQuerySchema, parseQuery } from './listQuery.ts';
import { approvalRoutes } from './approvalRoutes.ts';

const batchSchema = z.object({ tasks: z.array(z.unknown()) }).strict();

/** A page served beside the API (a dashboard): mounted at `path`, behind the API token like /api. */
export interface WebPage {
  path: string;
  handler: RequestHandler;
}

/** The pages to serve and where signing in lands; the composition root builds them (src/cli/webPages.ts). */
export interface WebPages {
  pages: readonly WebPage[];
  /** Where the login form sends a browser that came to it directly. */
  landing: string;
}

export interface ApiOptions extends Partial<WebPages> {
  coordinator: Coordinator;
  bodyLimitBytes: number;
  logger: Logger;
  /** Proposals go through it; default: one on the coordinator's connection (some process must drive them: `Consensus.drive()`). */
  consensus?: Consensus;
  /** SSE keep-alive comment interval of GET /api/events (default 15 s). */
  eventsHeartbeatMs?: number;
  /** Most GET /api/events streams open at once (each holds a Redis connection); default 200. */
  eventsMaxStreams?: number;
  /** Where the read routes (agents, nodes, hosts, summary, hierarchy) get the roster and loads; default a LoadsReader on the coordinator's connection. */
  swarmSource?: SwarmSource;
}

function requireJson(req: Request): void {
  if (!req.is('application/json')) {
    throw new SwarmError('unsupported_media_type', `send the body as application/json (got ${req.headers['content-type'] ?? 'no content type'})`);
  }
}

export function createApp({ coordinator, bodyLimitBytes, logger, consensus, eventsHeartbeatMs = 15_000, eventsMaxStreams = 200, pages = [], landing, swarmSource }: ApiOptions): express.Express {
  const proposals =
    consensus ?? new Consensus({ redis: coordinator.commands, prefix: coordinator.config.prefix, config: { agents: { failedAfterMs: coordinator.config.agents.failedAfterMs }, http: { maxJsonDepth: coordinator.config.http.maxJsonDepth }, trust: coordinator.config.trust } });
  const router = coordinator.router;
  const app = express();
  app.disable('x-powered-by');
  // Off unless SWARMQ_TRUST_PROXY says which proxies may tell the scheme (a Secure cookie behind TLS) and the client's address.
  app.set('trust proxy', coordinator.config.http.trustProxy);
  // Before any body is parsed: a refused request costs nothing and changes nothing.
  app.use(webGuard(coordinator.config.http));
  const token = coordinator.config.http.apiToken;
  if (token) {
    // With no pages a login lands on /healthz: a page that says the session works.
    const auth = tokenAuth({ token, redis: coordinator.commands, prefix: coordinator.config.prefix, landing: landing ?? pages[0]?.path ?? '/healthz' });
    app.use(auth.login);
    app.use(['/api', ...pages.map((p) => p.path)], auth.guard);
  }
  app.use('/api', express.json({ limit: bodyLimitBytes, type: 'application/json' }));

  app.get('/healthz', (_req, res) => {
    res.json({ ok: true });
  });
  // Open even when an API token is set: scrapers and probes carry none.
  const metrics = new SwarmMetrics(coordinator.commands, coordinator.config);
  app.get('/metrics', async (_req, res) => {
    const text = await metrics.render();
    res.type(metrics.contentType).send(text);
  });
  app.get('/readyz', async (_req, res) => {
    try {
      await coordinator.commands.ping();
      res.json({ ok: true });
    } catch (err) {
      res.status(503).json(new SwarmError('redis_unavailable', `Redis does not answer: ${(err as Error).message}`).toJSON());
    }
  });

  app.post('/api/tasks', async (req, res) => {
    requireJson(req);
    res.status(202).json(await router.submit(req.body));
  });
  app.post('/api/tasks/batch', async (req, res) => {
    requireJson(req);
    const parsed = batchSchema.safeParse(req.body);
    if (!parsed.success) throw new SwarmError('invalid_request', 'send { "tasks": [ ... ] }', [{ path: 'tasks', message: parsed.error.issues[0]?.message ?? 'required' }]);
    res.status(202).json(await router.submitBatch(parsed.data.tasks));
  });
  app.get('/api/tasks/:id', async (req, res) => {
    const task = await router.get(req.params.id);
    if (!task) throw new SwarmError('not_found', `no task ${req.params.id}`);
    res.json(task);
  });
  // One task's started / progress / retrying / finished as SSE (taskEventsRoute.ts); its own cap of eventsMaxStreams.
  app.get('/api/tasks/:id/events', taskEventsRoute({ redis: coordinator.commands, prefix: coordinator.config.prefix, logger, read: (id) => router.get(id), heartbeatMs: eventsHeartbeatMs, maxStreams: eventsMaxStreams }));
  // A waiting or running task (a running one's host aborts its signal), a replicated one with its replicas; finished: 409.
  app.delete('/api/tasks/:id', async (req, res) => {
    res.json(await router.cancel(req.params.id));
  });
  app.delete('/api/batches/:id', async (req, res) => {
    res.json(await router.cancelBatch(req.params.id));
  });
  // POST /api/tasks/:id/approve, /reject; GET /api/approvals (approvalRoutes.ts).
  app.use('/api', approvalRoutes(router));
  // GET /api/agents, /nodes, /hosts, /summary, /hierarchy: paged, counted, sliced (swarmRoutes.ts).
  app.use('/api', swarmRoutes({ coordinator, ...(swarmSource ? { source: swarmSource } : {}) }));
  // GET /api/keys, GET /api/keys/:key, PUT /api/keys/:key/limits (keysRoutes.ts, docs/keys.md).
  app.use('/api', keysRoutes(coordinator));
  app.get('/api/health', (_req, res) => {
    // Every coordinator classifies every host; `hosts` names the partitions this one monitors and recovers.
    res.json({ leading: coordinator.lease.fence() !== undefined, coordinator: coordinator.partitions.id, owned: [...coordinator.partitions.hosts().keys()].sort(), hosts: coordinator.health.hosts() });
  });
  app.get('/api/coordinators', async (req, res) => {
    parseQuery(emptyQuerySchema, req.query, 'GET /api/coordinators');
    res.json(await coordinatorsView(coordinator.commands, coordinator.config.prefix, (id, err) => logger.warn({ coordinator: id, err }, 'ignoring a malformed coordinator record in Redis')));
  });
  app.get('/api/dead-letter', async (_req, res) => {
    const jobs = await coordinator.deadLetterQueue.getJobs(['waiting', 'prioritized'], 0, 199);
    res.json({ tasks: jobs.map((j) => j.data as unknown) });
  });
  app.get('/api/recoveries', async (_req, res) => {
    res.json({ recoveries: await readRecoveries(coordinator) });
  });
  app.post('/api/agents', async (req, res) => {
    requireJson(req);
    res.status(201).json(await spawnAgents(coordinator, req.body));
  });
  app.delete('/api/agents/:id', async (req, res) => {
    res.json(await retireAgent(coordinator, req.params.id));
  });
  app.use('/api/proposals', proposalsRouter(proposals));
  app.get('/api/events', eventsRoute({ redis: coordinator.commands, prefix: coordinator.config.prefix, logger, heartbeatMs: eventsHeartbeatMs, maxStreams: eventsMaxStreams }));

  // A page's JSON (Bull Board's add, update and the like) is held to the same byte and depth bounds as the API's.
  if (pages.length > 0) {
    const maxDepth = coordinator.config.http.maxJsonDepth;
    app.use(
      pages.map((p) => p.path),
      express.json({ limit: bodyLimitBytes }),
      (req: Request, _res: Response, next: NextFunction) => {
        checkFieldDepth(req.body, maxDepth);
        next();
      },
    );
  }
  for (const page of pages) app.use(page.path, page.handler);

  // Anything no route took, under /api or not, is a JSON 404 like every other error.
  app.use((req, _res, next) => {
    next(new SwarmError('not_found', `no route ${req.method} ${req.originalUrl}`));
  });

  // express 5 passes rejected promises of async handlers here.
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const e = toSwarmError(err);
    if (e.status >= 500) logger.error({ err: (err as Error)?.message, path: req.path }, 'request failed');
    res.status(e.status).json(e.toJSON());
  });
  return app;
}

function toSwarmError(err: unknown): SwarmError {
  if (err instanceof SwarmError) return err;
  const e = err as { type?: string; status?: number; message?: string; limit?: number };
  if (e?.type === 'entity.too.large') return new SwarmError('payload_too_large', `body over the limit of ${e.limit} bytes; split it or raise http.bodyLimitBytes`);
  if (e?.type === 'entity.parse.failed') return new SwarmError('invalid_request', `body is not valid JSON: ${e.message}`, [{ path: '(body)', message: 'invalid JSON' }]);
  if (e?.type === 'encoding.unsupported' || e?.type === 'charset.unsupported') return new SwarmError('unsupported_media_type', e.message ?? 'unsupported encoding');
  if (isRedisDown(err)) return new SwarmError('redis_unavailable', 'Redis is not answering; nothing was written. Retry when /readyz says ok.');
  // A safety net: each operation that cannot run on a Cluster refuses before writing (docs/cluster.md); one that slipped through says so, as a conflict with how this swarm is deployed.
  if (isCrossSlot(err)) {
    return new SwarmError('conflict', `this request does not run on a Redis Cluster yet: it needs keys of several hash slots at once (${(err as Error).message}); docs/cluster.md lists what runs on a Cluster`);
  }
  // Other client errors express and body-parser raise (a body that does not inflate, a path that does not decode): the client's fault, said as such.
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) {
    const code = e.status === 413 ? 'payload_too_large' : e.status === 415 ? 'unsupported_media_type' : e.status === 404 ? 'not_found' : 'invalid_request';
    return new SwarmError(code, e.message ?? 'bad request');
  }
  return new SwarmError('internal', (err as Error)?.message ?? String(err));
}
