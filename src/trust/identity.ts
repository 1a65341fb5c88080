// An enrolled identity on disk: the authority's enrollment and the private
// key it vouches for, written by `swarmq trust enroll` (mode 0600) and given
// to a host or a proposer by path (SWARMQ_HOST_IDENTITY_FILE,
// SWARMQ_PROPOSER_IDENTITY_FILE). The authority's own key file has the same
// shape without an enrollment.
import { readFileSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { CertVerifier, type Role } from './certificates.ts';
import { exportPrivateKey, importSigningKey, signedSchema, type Signed, type SigningKey } from './signed.ts';

export const identityFileSchema = z.strictObject({
  kind: z.literal('swarmq-identity'),
  enrollment: signedSchema,
  privateKey: z.string().min(1).max(400),
});

export const authorityFileSchema = z.strictObject({ kind: z.literal('swarmq-authority'), privateKey: z.string().min(1).max(400) });

/** An identity a process signs with: the authority's enrollment of it, and its key. */
export interface Identity extends SigningKey {
  role: Role;
  name: string;
  enrollment: Signed;
}

function readJson(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read the ${what} at ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`the ${what} at ${path} is not JSON: write it with \`swarmq trust\``);
  }
}

export function writeSecretJson(path: string, value: unknown): void {
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
}

export function loadAuthority(path: string): SigningKey {
  const parsed = authorityFileSchema.safeParse(readJson(path, 'authority key file'));
  if (!parsed.success) throw new Error(`${path} is not an authority key file written by \`swarmq trust init\``);
  return importSigningKey(parsed.data.privateKey);
}

/**
 * The identity in `path`, checked against the anchor: enrolled by that
 * authority, in `role`, under `name` when given (a host's id), for this very
 * key. Each failure names the file and what to do.
 */
export function loadIdentity(path: string, anchor: string, role: Role, name?: string, revoked: ReadonlySet<string> = new Set()): Identity {
  const parsed = identityFileSchema.safeParse(readJson(path, `${role} identity file`));
  if (!parsed.success) throw new Error(`${path} is not an identity file written by \`swarmq trust enroll\``);
  const key = importSigningKey(parsed.data.privateKey);
  const e = new CertVerifier(anchor, revoked).enrollment(parsed.data.enrollment, role);
  if (e === 'revoked') throw new Error(`${path} holds a revoked identity (its key is in SWARMQ_TRUST_REVOKED): enroll this ${role} again`);
  if (e === 'wrong-role') throw new Error(`${path} enrolls a ${role === 'host' ? 'proposer' : 'host'}, not a ${role}: enroll one with \`swarmq trust enroll --${role} <name>\``);
  if (typeof e === 'string') throw new Error(`${path} is not enrolled by the authority SWARMQ_TRUST_ANCHOR names: enroll it again with that authority's key`);
  if (e.key !== key.publicKey) throw new Error(`${path}: its enrollment is for another key than the one it holds`);
  if (name !== undefined && e.name !== name) throw new Error(`${path} enrolls ${role} "${e.name}", but this ${role} is "${name}": enroll "${name}" or start it as "${e.name}"`);
  return { ...key, role, name: e.name, enrollment: parsed.data.enrollment };
}

export function identityFile(enrollment: Signed, key: SigningKey): z.infer<typeof identityFileSchema> {
  return { kind: 'swarmq-identity', enrollment, privateKey: exportPrivateKey(key.privateKey) };
}

export function authorityFile(key: SigningKey): z.infer<typeof authorityFileSchema> {
  return { kind: 'swarmq-authority', privateKey: exportPrivateKey(key.privateKey) };
}
