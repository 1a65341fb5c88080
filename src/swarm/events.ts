// Swarm events go on one Redis stream, so any process (dashboards, clients,
// another coordinator) can read what happened, in order, after the fact.
// Each entry is { type, data: JSON }; its stream id orders and resumes it.
import type { RedisClient } from '../../queues/redisTarget.ts';
import { swarmKeys } from '../../queues/keys.ts';
import { describeIssues } from '../validation.ts';
import { isSwarmEventType, swarmEventSchemas, type AnySwarmEvent, type SwarmEventInput, type SwarmEventType } from './eventSchemas.ts';

/** How many events the stream keeps (approximately: MAXLEN ~). */
export const EVENTS_KEPT = 10_000;

/** Writes one event after checking it against its type's schema: a malformed event throws here, in the publisher, not in every reader. */
export async function publishEvent<T extends SwarmEventType>(redis: RedisClient, prefix: string, type: T, data: SwarmEventInput<T>): Promise<void> {
  const parsed = swarmEventSchemas[type].safeParse(data);
  if (!parsed.success) throw new Error(`refusing to publish a malformed ${type} event: ${describeIssues(parsed.error)}`);
  await redis.xadd(swarmKeys(prefix).events, 'MAXLEN', '~', String(EVENTS_KEPT), '*', 'type', type, 'data', JSON.stringify(parsed.data));
}

/** A raw stream entry as ioredis returns it: [id, [field, value, …]]. */
export type StreamEntry = [id: string, fields: string[]];

export type ParsedEntry = { ok: true; event: AnySwarmEvent } | { ok: false; id: string; reason: string };

/** The ms timestamp a stream id starts with. */
export function streamIdTime(id: string): number {
  return Number(id.slice(0, id.indexOf('-')));
}

/** A stream entry as a typed event; anything else (an unknown type, bad JSON, a shape its schema refuses) says why. */
export function parseEventEntry([id, fields]: StreamEntry): ParsedEntry {
  let type: string | undefined;
  let raw: string | undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (fields[i] === 'type') type = fields[i + 1];
    else if (fields[i] === 'data') raw = fields[i + 1];
  }
  if (type === undefined || !isSwarmEventType(type)) return { ok: false, id, reason: `unknown event type ${JSON.stringify(type)}` };
  let json: unknown;
  try {
    json = JSON.parse(raw ?? '');
  } catch {
    return { ok: false, id, reason: 'data is not JSON' };
  }
  const parsed = swarmEventSchemas[type].safeParse(json);
  if (!parsed.success) return { ok: false, id, reason: describeIssues(parsed.error) };
  // The data was parsed by the schema of this very type, so the pair matches.
  return { ok: true, event: { id, type, at: streamIdTime(id), data: parsed.data } as AnySwarmEvent };
}

const STREAM_ID = /^([0-9]{1,20})-([0-9]{1,20})$/;
const MAX_ID_PART = 2n ** 64n - 1n;

/**
 * A stream id such as `1733100000000-0`: the only resume points SSE and `on`
 * accept besides `$` and `0`. Each part is a 64-bit unsigned number; Redis
 * refuses a larger one on every read, so it is refused here, once, instead.
 */
export function isStreamId(s: string): boolean {
  const m = STREAM_ID.exec(s);
  return m !== null && BigInt(m[1]!) <= MAX_ID_PART && BigInt(m[2]!) <= MAX_ID_PART;
}
