// What makes a round's outcome checkable by anyone holding the trust anchor
// (src/trust/certificates.ts), rather than taken from Redis on trust:
//   - the spec is signed by an enrolled proposer, so its value and its
//     participants (with their certified keys) are the ones proposed;
//   - each agent's decision is signed by its host's enrolled key, over the
//     round, the spec's digest and the value.
// A bare hash entry, a spec rewritten in Redis, a key swapped in the roster:
// each fails one of these checks and counts for nothing.
import { createHash, type KeyObject } from 'node:crypto';
import type { AgentCert, CertVerifier } from '../../trust/certificates.ts';
import { signBytes, verifyBytes, type Signed } from '../../trust/signed.ts';
import { decisionSchema, type Decision, type RoundSpec } from './proposal.ts';

/** Who signs: an identity the authority enrolled, and its private key. */
export interface Signer {
  enrollment: Signed;
  /** The enrolled Ed25519 public key (base64 raw). */
  publicKey: string;
  privateKey: KeyObject;
}

/**
 * The spec's digest: SHA-256 over its JSON without the signature. Specs are
 * parsed with roundSpecSchema (a strict object: its keys come out in the
 * schema's order), so the text is the same wherever the spec is read.
 */
export function specDigest(spec: RoundSpec): string {
  const { signature: _s, ...unsigned } = spec;
  return createHash('sha256').update(JSON.stringify(unsigned)).digest('base64');
}

export function signSpec(spec: RoundSpec, proposer: Signer): RoundSpec {
  const { signature: _s, ...unsigned } = spec;
  const digest = specDigest(unsigned);
  return { ...unsigned, signature: { proposer: proposer.enrollment, sig: signBytes(`swarmq-spec-v1\u0000${digest}`, proposer.privateKey) } };
}

function decisionText(round: string, digest: string, agent: string, value: string): string {
  return `swarmq-decision-v1\u0000${round}\u0000${digest}\u0000${agent}\u0000${value}`;
}

/** A record's certified consensus key, if `v` accepts its certificate for that agent, host and key. */
export function certifiedKey(v: CertVerifier, record: { id: string; hostId: string; consensusKey?: string | undefined; consensusCert?: AgentCert | undefined }): AgentCert | undefined {
  if (!record.consensusCert || record.consensusKey === undefined) return undefined;
  const stated = v.agentKey(record.consensusCert, { agent: record.id, host: record.hostId });
  return typeof stated !== 'string' && stated.key === record.consensusKey ? record.consensusCert : undefined;
}

/**
 * The spec with its participants' certificates, signed by the proposer: what
 * an anchored swarm runs. Each host's enrollment goes in once, beside its
 * agents' key statements; only when one host's agents were certified under
 * two enrollments (it enrolled again meanwhile) does every certificate go in
 * whole.
 */
export function certifySpec(spec: RoundSpec, certs: Record<string, AgentCert>, proposer: Signer): RoundSpec {
  const hostEnrollments: Record<string, Signed> = {};
  const agentKeys: Record<string, Signed> = {};
  for (const p of spec.participants) {
    const cert = certs[p.id];
    if (!cert) continue; // uncertified: verifySpec refuses the spec, as it would with `certs`
    const known = hostEnrollments[p.host];
    if (known && (known.text !== cert.host.text || known.sig !== cert.host.sig)) return signSpec({ ...spec, certs }, proposer);
    hostEnrollments[p.host] = cert.host;
    agentKeys[p.id] = cert.agent;
  }
  return signSpec({ ...spec, hostEnrollments, agentKeys }, proposer);
}

/** A participant's certificate as the spec carries it, whole or with its host's enrollment written once. */
function certOf(spec: RoundSpec, p: { id: string; host: string }): AgentCert | undefined {
  if (spec.certs) return spec.certs[p.id];
  const host = spec.hostEnrollments?.[p.host];
  const agent = spec.agentKeys?.[p.id];
  return host && agent ? { host, agent } : undefined;
}

/** The signature a host puts on one of its agents' decisions. */
export function signDecision(spec: RoundSpec, digest: string, agent: string, value: string, host: Signer): string {
  return signBytes(decisionText(spec.id, digest, agent, value), host.privateKey);
}

export type SpecRejection = 'unsigned-spec' | 'bad-spec-signature' | 'uncertified-participant';

/**
 * A spec as the trust anchor vouches for it: the proposer is enrolled and
 * signed this very spec, and every participant's key is certified by its own
 * host. Then each participant's host key checks its decisions.
 */
export interface VerifiedSpec {
  digest: string;
  /** Per participant: the Ed25519 key of its host, which signs its decisions. */
  hostKeyOf: Map<string, string>;
  /** Per participant: when its host made the certified key (a rekey must bring a newer one). */
  keyIssuedAt: Map<string, number>;
}

export function verifySpec(spec: RoundSpec, v: CertVerifier): VerifiedSpec | SpecRejection {
  if (!spec.signature || !(spec.certs || (spec.hostEnrollments && spec.agentKeys))) return 'unsigned-spec';
  const proposer = v.enrollment(spec.signature.proposer, 'proposer');
  if (typeof proposer === 'string') return 'bad-spec-signature';
  const digest = specDigest(spec);
  if (!verifyBytes(proposer.key, `swarmq-spec-v1\u0000${digest}`, spec.signature.sig)) return 'bad-spec-signature';
  const hostKeyOf = new Map<string, string>();
  const keyIssuedAt = new Map<string, number>();
  for (const p of spec.participants) {
    const cert = certOf(spec, p);
    const stated = cert && v.agentKey(cert, { agent: p.id, host: p.host });
    if (!stated || typeof stated === 'string' || stated.key !== p.key) return 'uncertified-participant';
    const host = v.enrollment(cert.host, 'host');
    if (typeof host === 'string') return 'uncertified-participant';
    hostKeyOf.set(p.id, host.key);
    keyIssuedAt.set(p.id, stated.issuedAt);
  }
  return { digest, hostKeyOf, keyIssuedAt };
}

/** Is `d` `agent`'s decision, signed by its host? */
export function decisionSigned(spec: RoundSpec, verified: VerifiedSpec, agent: string, d: Decision): boolean {
  const hostKey = verified.hostKeyOf.get(agent);
  return hostKey !== undefined && d.sig !== undefined && verifyBytes(hostKey, decisionText(spec.id, verified.digest, agent, d.value), d.sig);
}

/**
 * Has `agent` a decision recorded (its `decided` field, `raw`)? With a
 * verified spec, only one its host signed counts: an entry anyone else wrote,
 * or garbage, must not stop the host from recording and signing the real one.
 */
export function decisionRecorded(spec: RoundSpec, verified: VerifiedSpec | undefined, agent: string, raw: string | undefined): boolean {
  if (raw === undefined) return false;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return false;
  }
  const d = decisionSchema.safeParse(parsed);
  return d.success && (!verified || decisionSigned(spec, verified, agent, d.data));
}

/** Which recorded decisions count: with a trust anchor, only those signed by the agent's certified host, over this very spec. */
export interface DecisionCheck {
  /** Why no decision of this round can count (the spec is not one an enrolled proposer signed), if so. */
  problem?: SpecRejection;
  counts(agent: string, d: Decision): boolean;
}

/** A check for one round's decisions; its results are kept, since the driver reads the decisions again and again. */
export function decisionCheck(spec: RoundSpec, v: CertVerifier): DecisionCheck {
  const verified = verifySpec(spec, v);
  if (typeof verified === 'string') return { problem: verified, counts: () => false };
  const seen = new Map<string, boolean>();
  return {
    counts(agent, d) {
      const key = `${agent}\u0000${d.value}\u0000${d.sig ?? ''}`;
      let ok = seen.get(key);
      if (ok === undefined) seen.set(key, (ok = decisionSigned(spec, verified, agent, d)));
      return ok;
    },
  };
}
