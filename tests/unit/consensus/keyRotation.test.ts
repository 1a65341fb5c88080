// The rule for a participant's key changing mid-round (keyRotation.ts), used
// by the host runtime and by the simulator's Redis adversary: only a newer
// certificate from the participant's own host.
import { describe, expect, it } from 'vitest';
import { certifyAgentKey } from '../../../src/trust/certificates.ts';
import { acceptRotatedKey } from '../../../src/consensus/runtime/keyRotation.ts';
import { testAuthority } from '../../support/trust.ts';

const KEY_A = Buffer.alloc(32, 1).toString('base64');
const KEY_B = Buffer.alloc(32, 2).toString('base64');

describe('acceptRotatedKey', () => {
  const auth = testAuthority();
  const h1 = auth.identity('host', 'h1');
  const h2 = auth.identity('host', 'h2');
  const verifier = auth.host('h1').verifier;
  const cert = (issuedAt: number, key = KEY_B) => certifyAgentKey(h1.privateKey, h1.enrollment, 'h1-a1', 'h1', key, issuedAt);

  it('takes a newer certificate from the agent’s own host, and the certificate’s key', () => {
    expect(acceptRotatedKey(verifier, 'h1-a1', 'h1', 10, { consensusCert: cert(11) })).toEqual({ key: KEY_B, issuedAt: 11 });
  });

  it('refuses an old or equal certificate, a missing one, another host’s, and a non-participant', () => {
    expect(acceptRotatedKey(verifier, 'h1-a1', 'h1', 10, { consensusCert: cert(10, KEY_A) })).toEqual({ rejected: 'not newer' });
    expect(acceptRotatedKey(verifier, 'h1-a1', 'h1', 10, {})).toEqual({ rejected: 'not-enrolled' });
    const byH2 = certifyAgentKey(h2.privateKey, h2.enrollment, 'h1-a1', 'h2', KEY_B, 99);
    expect(acceptRotatedKey(verifier, 'h1-a1', 'h1', 10, { consensusCert: byH2 })).toEqual({ rejected: 'not-its-agent' });
    const claimsH1 = certifyAgentKey(h2.privateKey, h1.enrollment, 'h1-a1', 'h1', KEY_B, 99);
    expect(acceptRotatedKey(verifier, 'h1-a1', 'h1', 10, { consensusCert: claimsH1 })).toEqual({ rejected: 'bad-signature' });
    expect(acceptRotatedKey(verifier, 'h1-a1', undefined, undefined, { consensusCert: cert(11) })).toEqual({ rejected: 'not-enrolled' });
    expect(acceptRotatedKey(verifier, 'h1-a1', 'h1', undefined, { consensusCert: cert(11) })).toEqual({ rejected: 'not newer' });
  });
});
