// A host's HTTP agents: task types whose work an endpoint does, given as a map
// (`{ writer: 'http://127.0.0.1:8000/run' }`, or with per-endpoint settings),
// checked at the boundary, made into processors that share one keep-alive
// pool per endpoint URL, so the connections to a service stay bounded however
// many types it serves.
import type http from 'node:http';
import { z } from 'zod';
import { taskTypeSchema } from '../tasks/schema.ts';
import type { ProcessorMap, TaskContext } from './processor.ts';
import { DEFAULT_MAX_RESPONSE_BYTES, endpointName, endpointUrl, httpProcessor, keepAliveAgent, type ExchangeReport } from './httpAgent.ts';

export const DEFAULT_ENDPOINT_TIMEOUT_MS = 120_000;
export const DEFAULT_MAX_SOCKETS = 64;
/** A shorter secret is refused: it would be guessable offline from one signed request. */
export const MIN_SECRET_LENGTH = 16;

const endpointSchema = z.object({
  url: z.string().min(1),
  /** Longest one request may take (its connection is then closed, the attempt fails and is retried). */
  timeoutMs: z.number().int().min(100).max(24 * 3600_000).default(DEFAULT_ENDPOINT_TIMEOUT_MS),
  /** Connections kept open to this URL at most; shared by every type it serves (the first type's figure counts). */
  maxSockets: z.number().int().min(1).max(10_000).default(DEFAULT_MAX_SOCKETS),
  maxResponseBytes: z.number().int().min(1024).max(256 * 1024 * 1024).default(DEFAULT_MAX_RESPONSE_BYTES),
});

export type HttpEndpoint = z.input<typeof endpointSchema>;
export type HttpEndpoints = Record<string, string | HttpEndpoint>;

export interface EndpointProcessors {
  processors: ProcessorMap;
  /** Each endpoint, by its name (endpointName), with the task types it serves. */
  served: ReadonlyMap<string, readonly string[]>;
  /** Closes every pool's idle connections (at host stop). */
  close(): void;
}

export function endpointProcessors(
  endpoints: HttpEndpoints,
  common: { secret: string | undefined; onProgress?: (ctx: TaskContext, value: unknown) => void; onExchange?: (e: ExchangeReport) => void },
): EndpointProcessors {
  const types = Object.keys(endpoints);
  if (types.length === 0) return { processors: {}, served: new Map(), close: () => {} };
  const secret = common.secret;
  if (secret === undefined || secret.length < MIN_SECRET_LENGTH) {
    throw new Error(
      `HTTP agents (${types.join(', ')}) sign each request with a secret their service shares: set SWARMQ_AGENT_SECRET or SWARMQ_AGENT_SECRET_FILE ` +
        `(at least ${MIN_SECRET_LENGTH} characters, e.g. from \`openssl rand -hex 32\`)${secret === undefined ? '' : `; the one given has ${secret.length}`}`,
    );
  }
  const pools = new Map<string, http.Agent>();
  const served = new Map<string, string[]>();
  const entries = types.map((type) => {
    if (!taskTypeSchema.safeParse(type).success) throw new Error(`HTTP agent endpoints: ${JSON.stringify(type)} is not a valid task type (letters, digits, "_", "." and "-")`);
    const given = endpoints[type]!;
    const parsed = endpointSchema.safeParse(typeof given === 'string' ? { url: given } : given);
    if (!parsed.success) throw new Error(`HTTP agent endpoint of ${type}: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'value'}: ${i.message}`).join('; ')}`);
    const e = parsed.data;
    const url = endpointUrl(e.url);
    let agent = pools.get(url.href);
    if (!agent) pools.set(url.href, (agent = keepAliveAgent(url, e.maxSockets)));
    const name = endpointName(url);
    served.set(name, [...(served.get(name) ?? []), type]);
    const p = httpProcessor({
      type,
      endpoint: url.href,
      secret,
      timeoutMs: e.timeoutMs,
      maxSockets: e.maxSockets,
      maxResponseBytes: e.maxResponseBytes,
      agent,
      ...(common.onProgress ? { onProgress: common.onProgress } : {}),
      ...(common.onExchange ? { onExchange: common.onExchange } : {}),
    });
    return [type, p] as const;
  });
  return {
    processors: Object.fromEntries(entries),
    served,
    close: () => {
      for (const a of pools.values()) a.destroy();
    },
  };
}
