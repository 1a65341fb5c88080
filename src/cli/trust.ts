// `swarmq trust init | enroll`: the operator's side of certified consensus.
// The authority key file is the one secret that vouches for every host and
// proposer: keep it off the swarm's machines (it is needed only to enroll).
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { enroll, type Role } from '../trust/certificates.ts';
import { authorityFile, identityFile, loadAuthority, writeSecretJson } from '../trust/identity.ts';
import { newSigningKey } from '../trust/signed.ts';
import { HOST_ID } from '../agents/spec.ts';
import { SwarmError } from '../errors.ts';

function refuseExisting(path: string): void {
  if (existsSync(path)) throw new SwarmError('conflict', `${path} exists: an identity is never overwritten (move it away first if you mean to replace it)`);
}

/** Makes the authority key file; returns the anchor (its public key) to give every process as SWARMQ_TRUST_ANCHOR. */
export function trustInit(dir: string): { anchor: string; file: string } {
  const file = join(dir, 'authority.json');
  refuseExisting(file);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const key = newSigningKey();
  writeSecretJson(file, authorityFile(key));
  return { anchor: key.publicKey, file };
}

/** Enrolls a host (its id) or a proposer (a name) with a new key; writes its identity file. */
export function trustEnroll(authorityPath: string, role: Role, name: string, out: string | undefined): { file: string; key: string } {
  if (!HOST_ID.test(name)) throw new SwarmError('invalid_request', `--${role} takes letters, digits, "_", "." and "-" only (a host's id), got "${name}"`);
  const file = out ?? join(dirname(authorityPath), `${role}-${name}.json`);
  refuseExisting(file);
  const authority = loadAuthority(authorityPath);
  const key = newSigningKey();
  writeSecretJson(file, identityFile(enroll(authority.privateKey, role, name, key.publicKey), key));
  return { file, key: key.publicKey };
}
