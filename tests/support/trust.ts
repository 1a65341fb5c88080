// A swarm authority for tests, in memory: enrolled host and proposer
// identities, as `swarmq trust enroll` would write them, handed to AgentHost
// and Consensus directly (their `trust` option).
import { CertVerifier, enroll, type Role } from '../../src/trust/certificates.ts';
import type { Identity } from '../../src/trust/identity.ts';
import type { ProcessTrust } from '../../src/trust/processTrust.ts';
import { newSigningKey } from '../../src/trust/signed.ts';

export interface TestAuthority {
  anchor: string;
  identity(role: Role, name: string): Identity;
  /** What a host process holds: the verifier and its enrolled identity. */
  host(id: string): ProcessTrust;
  /** What a proposing process (a coordinator) holds. */
  proposer(name?: string): ProcessTrust;
}

export function testAuthority(): TestAuthority {
  const authority = newSigningKey();
  const identity = (role: Role, name: string): Identity => {
    const key = newSigningKey();
    return { ...key, role, name, enrollment: enroll(authority.privateKey, role, name, key.publicKey) };
  };
  return {
    anchor: authority.publicKey,
    identity,
    host: (id) => ({ verifier: new CertVerifier(authority.publicKey), host: identity('host', id) }),
    proposer: (name = 'coordinator') => ({ verifier: new CertVerifier(authority.publicKey), proposer: identity('proposer', name) }),
  };
}
