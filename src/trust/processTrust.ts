// What one process holds of the swarm's trust, from its config: the verifier
// of the anchor, and the identities it was given (a host's, a proposer's).
// Files are read and checked once, at start, and a mistake stops the process
// with the setting that carried it.
import type { SwarmConfig } from '../config/schema.ts';
import { CertVerifier } from './certificates.ts';
import { loadIdentity, type Identity } from './identity.ts';

export interface ProcessTrust {
  verifier: CertVerifier;
  /** The host identity, in a process that runs this host's agents. */
  host?: Identity;
  /** The proposer identity, in a process that makes proposals (a coordinator, a program). */
  proposer?: Identity;
}

/**
 * The trust of a process that is host `hostId` (if given) and/or a proposer.
 * Undefined without an anchor (consensus then trusts Redis: see docs/security.md).
 */
export function processTrust(config: Pick<SwarmConfig, 'trust'>, as: { hostId?: string; proposer?: boolean }): ProcessTrust | undefined {
  const t = config.trust;
  if (!t.anchor) {
    const given = t.hostIdentityFile ? 'SWARMQ_HOST_IDENTITY_FILE' : t.proposerIdentityFile ? 'SWARMQ_PROPOSER_IDENTITY_FILE' : undefined;
    if (given) throw new Error(`${given} is set but SWARMQ_TRUST_ANCHOR is not: set the authority's public key that \`swarmq trust init\` printed`);
    return undefined;
  }
  const revoked = new Set(t.revoked);
  const trust: ProcessTrust = { verifier: new CertVerifier(t.anchor, revoked) };
  if (as.hostId !== undefined && t.hostIdentityFile) trust.host = loadIdentity(t.hostIdentityFile, t.anchor, 'host', as.hostId, revoked);
  if (as.proposer && t.proposerIdentityFile) trust.proposer = loadIdentity(t.proposerIdentityFile, t.anchor, 'proposer', undefined, revoked);
  return trust;
}
