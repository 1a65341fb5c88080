// How an HTTP agent's request proves it comes from the swarm: an HMAC-SHA256,
// under a secret the swarm and the service share, of the timestamp and the
// exact body bytes. The timestamp is inside the signed material, so a captured
// request replayed later is refused by its age (the tolerance), and one
// replayed within the tolerance carries the same Idempotency-Key, which the
// service already remembers. Pure: the clock is an argument.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-swarmq-signature';
export const TIMESTAMP_HEADER = 'x-swarmq-timestamp';
export const IDEMPOTENCY_HEADER = 'idempotency-key';
/** The scheme's version: a later one (a new prefix) can be accepted beside it while secrets and services roll over. */
export const SIGNATURE_VERSION = 'v1';
/** How far a request's timestamp may be from the service's clock, either way, in the documented check. */
export const DEFAULT_TOLERANCE_MS = 5 * 60_000;

/** `v1=<hex of HMAC-SHA256(secret, "v1:" + timestamp + ":" + body)>`. */
export function signature(secret: string, timestampMs: number, body: Buffer | string): string {
  const mac = createHmac('sha256', secret);
  mac.update(`${SIGNATURE_VERSION}:${timestampMs}:`);
  mac.update(body);
  return `${SIGNATURE_VERSION}=${mac.digest('hex')}`;
}

/**
 * The idempotency key of one attempt of a task: a retry is a new attempt, a
 * replay of one request is not. A run after a rejected output (revision 2, 3, …:
 * src/tasks/approval.ts) is new too, though its attempt number is not.
 */
export function idempotencyKey(taskId: string, attempt: number, revision = 1): string {
  return revision > 1 ? `${taskId}:${attempt}:r${revision}` : `${taskId}:${attempt}`;
}

/** The headers that sign one request's body. */
export function signedHeaders(secret: string, body: Buffer, nowMs: number, taskId: string, attempt: number, revision = 1): Record<string, string> {
  return {
    [TIMESTAMP_HEADER]: String(nowMs),
    [SIGNATURE_HEADER]: signature(secret, nowMs, body),
    [IDEMPOTENCY_HEADER]: idempotencyKey(taskId, attempt, revision),
  };
}

export type Verdict = { ok: true } | { ok: false; why: string };

/**
 * What a service does with a request (docs/http-agents.md; the examples do the
 * same in their own language): the timestamp is a whole number of ms within
 * the tolerance of its clock, and the signature matches in constant time.
 */
export function verifySignature(secret: string, headers: { timestamp: string | undefined; signature: string | undefined }, body: Buffer | string, nowMs: number, toleranceMs = DEFAULT_TOLERANCE_MS): Verdict {
  const { timestamp, signature: given } = headers;
  if (timestamp === undefined || !/^[0-9]{1,16}$/.test(timestamp)) return { ok: false, why: `missing or malformed ${TIMESTAMP_HEADER}` };
  if (Math.abs(nowMs - Number(timestamp)) > toleranceMs) return { ok: false, why: `${TIMESTAMP_HEADER} is more than ${toleranceMs} ms from this clock (a replay, or clocks apart)` };
  if (given === undefined) return { ok: false, why: `missing ${SIGNATURE_HEADER}` };
  const expected = Buffer.from(signature(secret, Number(timestamp), body));
  const got = Buffer.from(given);
  if (got.length !== expected.length || !timingSafeEqual(got, expected)) return { ok: false, why: 'bad signature' };
  return { ok: true };
}
