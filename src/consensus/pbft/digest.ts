// Digests. A request's digest is a SHA-256 of its value (node:crypto hashing is
// pure: no I/O, same input same output). The replica state is the sequence of
// executed requests, summarised by a hash chain: D(n) commits to every request
// executed up to n and to how many of them were real (non-null), so two
// replicas that agree on D(n) agree on everything up to n. Checkpoints and
// state transfer compare these.
import { createHash } from 'node:crypto';
import type { Value } from '../protocol.ts';

export type Digest = string;

export function sha256(text: string): Digest {
  return createHash('sha256').update(text).digest('hex');
}

/** The digest of the null request (a no-op that fills a gap after a view change). Not a hex string: no value hashes to it. */
export const NULL_DIGEST: Digest = 'null';

export function valueDigest(value: Value | null): Digest {
  return value === null ? NULL_DIGEST : sha256(`value\u0000${value}`);
}

/** D(0): the state before anything executed. */
export const GENESIS_DIGEST: Digest = sha256('swarmq/pbft/genesis');

/** D(seq) from D(seq−1), the executed request's digest and the count of real requests executed up to and including seq. */
export function chainDigest(prev: Digest, seq: number, request: Digest, count: number): Digest {
  return sha256(`${prev}|${seq}|${request}|${count}`);
}

/** JSON with object keys sorted, so equal structures always hash alike whatever order their keys were built in. */
export function canonical(x: unknown): string {
  if (x === null || typeof x !== 'object') return JSON.stringify(x) ?? 'null';
  if (Array.isArray(x)) return `[${x.map(canonical).join(',')}]`;
  const rec = x as Record<string, unknown>;
  const keys = Object.keys(rec)
    .filter((k) => rec[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(rec[k])}`).join(',')}}`;
}

export function digestOf(x: unknown): Digest {
  return sha256(canonical(x));
}
