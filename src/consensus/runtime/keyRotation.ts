// Whether a participant's key may change in the middle of a round (its host
// restarted with fresh keys): a pure rule, so the host runtime and the
// simulator's Redis adversary (src/consensus/sim/recordedRound.ts) apply the
// same one.
import type { AgentCert, CertRejection, CertVerifier } from '../../trust/certificates.ts';

/** A key accepted with the age of its certificate, or why the record's key is not used. */
export type RotatedKey = { key: string; issuedAt: number } | { rejected: CertRejection | 'not newer' };

/**
 * With a trust anchor, a participant's roster record brings a new key only
 * with a certificate from the participant's own host (`host`, from the
 * verified spec) made after the one in use (`inUseIssuedAt`; undefined, as for
 * a non-participant, accepts nothing). The certificate's key is the one
 * taken, never the record's `consensusKey` field: a key written into the
 * roster by anyone else, or an older certificate replayed, changes nothing.
 */
export function acceptRotatedKey(
  verifier: CertVerifier,
  peer: string,
  host: string | undefined,
  inUseIssuedAt: number | undefined,
  record: { consensusCert?: AgentCert | undefined },
): RotatedKey {
  const stated = record.consensusCert && host !== undefined ? verifier.agentKey(record.consensusCert, { agent: peer, host }) : 'not-enrolled';
  if (typeof stated === 'string') return { rejected: stated };
  if (stated.issuedAt <= (inUseIssuedAt ?? Infinity)) return { rejected: 'not newer' };
  return { key: stated.key, issuedAt: stated.issuedAt };
}
