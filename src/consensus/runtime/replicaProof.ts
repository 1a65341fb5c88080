// What replicas of a replicated task vote on, and, with a trust anchor, the
// proof that an output is the one its agent's host produced: the host signs
// the task, the replica, the agent and the output's hash when the replica
// finishes (an extra field in the same finishing step), and the driver counts
// a replica's output only with that signature, by the agent's certified host.
// Without it a Redis writer could change what the replicas vote on.
import { createHash, type KeyObject } from 'node:crypto';
import type { AgentCert, CertVerifier } from '../../trust/certificates.ts';
import { signBytes, verifyBytes } from '../../trust/signed.ts';

/** The job-hash field a host's signature of a replica's output goes in. */
export const REPLICA_PROOF_FIELD = 'sqReplicaProof';

/** JSON with object keys sorted at every depth, so equal outputs compare equal however their keys were ordered. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value === undefined ? null : value, (_k, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
    return sorted;
  });
}

/** What agents vote on: a replica's output as the SHA-256 of its canonical JSON (messages stay small whatever the output). */
export function outputHash(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}

function replicaText(task: string, replica: string, agent: string, hash: string): string {
  return `swarmq-replica-v1\u0000${task}\u0000${replica}\u0000${agent}\u0000${hash}`;
}

/**
 * The host's signature of `output`, as the driver will read it back: BullMQ
 * stores a result as JSON, so the hash is taken after the same round trip.
 */
export function signReplicaOutput(hostKey: KeyObject, task: string, replica: string, agent: string, output: unknown): string {
  const stored: unknown = JSON.parse(JSON.stringify(output === undefined ? null : output));
  return signBytes(replicaText(task, replica, agent, outputHash(stored)), hostKey);
}

/** Is `sig` the signature, by the host `cert` certifies `agent` on, of this replica's output hash? */
export function replicaOutputSigned(v: CertVerifier, cert: AgentCert, task: string, replica: string, agent: string, hash: string, sig: string | undefined): boolean {
  if (sig === undefined) return false;
  const stated = v.agentKey(cert, { agent });
  if (typeof stated === 'string') return false;
  const host = v.enrollment(cert.host, 'host');
  return typeof host !== 'string' && verifyBytes(host.key, replicaText(task, replica, agent, hash), sig);
}
