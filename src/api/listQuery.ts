// The query strings of the swarm's read routes, checked with zod: a bad or
// unknown parameter is a 400 that names it, never a 500 and never ignored (a
// misspelt filter that was ignored would look like an answer).
import { z } from 'zod';
import { SwarmError } from '../errors.ts';
import { LOAD_BANDS } from '../routing/loadBand.ts';
import { AGENT_STATES } from './agentPage.ts';

export const PAGE_LIMIT = { default: 100, max: 1000 } as const;
/** Deeper than any hierarchy swarmq builds (hierarchyDepth is far smaller); only bounds the work. */
const MAX_LEVELS = 32;

const text = (what: string) => z.string({ error: `${what}: give it once, as text` }).min(1, `${what}: empty`).max(256, `${what}: at most 256 characters`);
/** A search: empty (a cleared search box) matches everything. */
const search = z
  .string({ error: 'q: give it once, as text' })
  .max(256, 'q: at most 256 characters')
  .transform((q) => (q === '' ? undefined : q));
const limit = z.coerce
  .number({ error: 'limit: a whole number' })
  .int('limit: a whole number')
  .min(1, 'limit: at least 1')
  .max(PAGE_LIMIT.max, `limit: at most ${PAGE_LIMIT.max}`)
  .default(PAGE_LIMIT.default);

export const agentQuerySchema = z
  .object({
    host: text('host').optional(),
    node: text('node').optional(),
    type: text('type').optional(),
    state: z.enum(AGENT_STATES, { error: `state: one of ${AGENT_STATES.join(', ')}` }).optional(),
    q: search.optional(),
    limit,
    cursor: text('cursor').optional(),
  })
  .strict();
export type AgentQuery = z.infer<typeof agentQuerySchema>;

export const nodeQuerySchema = z
  .object({
    q: search.optional(),
    load: z.enum(LOAD_BANDS, { error: `load: one of ${LOAD_BANDS.join(', ')}` }).optional(),
    limit,
    cursor: text('cursor').optional(),
  })
  .strict();
export type NodeQuery = z.infer<typeof nodeQuerySchema>;

export const hierarchyQuerySchema = z
  .object({
    under: text('under').optional(),
    depth: z.coerce
      .number({ error: 'depth: a whole number' })
      .int('depth: a whole number')
      .min(0, 'depth: at least 0')
      .max(MAX_LEVELS, `depth: at most ${MAX_LEVELS}`)
      .optional(),
  })
  .strict();

export const emptyQuerySchema = z.object({}).strict();

/** The query parsed, or a 400 naming each bad or unknown parameter. */
export function parseQuery<S extends z.ZodType>(schema: S, query: unknown, route: string): z.output<S> {
  const parsed = schema.safeParse(query ?? {});
  if (parsed.success) return parsed.data;
  const details = parsed.error.issues.flatMap((i) =>
    i.code === 'unrecognized_keys'
      ? i.keys.map((k) => ({ path: k, message: `${k}: not a parameter of ${route}` }))
      : [{ path: i.path.map(String).join('.') || '(query)', message: i.message }],
  );
  throw new SwarmError('invalid_request', `bad query for ${route}: ${details.map((d) => d.message).join('; ')}`, details);
}
