// Ed25519 signatures over exact statement text. A statement is signed as the
// JSON text it travels as, never re-serialized, so no canonical JSON is
// needed: what was signed is what is parsed. Signatures (not MACs) because a
// certificate or a decision is checked by processes that share no secret with
// its signer: other hosts, coordinators, the API, a client.
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { z } from 'zod';

/** A signed statement: `text` is the statement's JSON, `sig` the base64 Ed25519 signature over its UTF-8 bytes. */
export const signedSchema = z.strictObject({ text: z.string().min(2).max(4096), sig: z.string().min(1).max(100) });
export type Signed = z.infer<typeof signedSchema>;

export interface SigningKey {
  /** Ed25519 public key, base64 of its raw 32 bytes. */
  publicKey: string;
  privateKey: KeyObject;
}

export function newSigningKey(): SigningKey {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return { publicKey: rawPublicKey(publicKey), privateKey };
}

function rawPublicKey(k: KeyObject): string {
  return Buffer.from(k.export({ format: 'jwk' }).x!, 'base64url').toString('base64');
}

/** The private key as PKCS#8 DER base64, for an identity file. */
export function exportPrivateKey(k: KeyObject): string {
  return k.export({ format: 'der', type: 'pkcs8' }).toString('base64');
}

/** A private key from exportPrivateKey's text, with its public half; throws a message naming what is wrong. */
export function importSigningKey(pkcs8: string): SigningKey {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: Buffer.from(pkcs8, 'base64'), format: 'der', type: 'pkcs8' });
  } catch (err) {
    throw new Error(`not a PKCS#8 private key (${(err as Error).message})`);
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error(`an Ed25519 key is needed, this one is ${privateKey.asymmetricKeyType ?? 'unknown'}`);
  return { privateKey, publicKey: rawPublicKey(createPublicKey(privateKey)) };
}

const publicKeys = new Map<string, KeyObject>();

/** A KeyObject for a raw base64 Ed25519 public key (cached: a few hundred distinct keys at most), or undefined if it is not one. */
function publicKeyObject(raw: string): KeyObject | undefined {
  let k = publicKeys.get(raw);
  if (k) return k;
  const bytes = Buffer.from(raw, 'base64');
  if (bytes.length !== 32) return undefined;
  try {
    k = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: bytes.toString('base64url') }, format: 'jwk' });
  } catch {
    return undefined;
  }
  if (publicKeys.size > 10_000) publicKeys.clear();
  publicKeys.set(raw, k);
  return k;
}

/** A base64 Ed25519 signature over `data`. */
export function signBytes(data: string, key: KeyObject): string {
  return sign(null, Buffer.from(data), key).toString('base64');
}

/** Is `sig` a valid signature by `publicKey` (raw base64) over `data`? */
export function verifyBytes(publicKey: string, data: string, sig: string): boolean {
  const k = publicKeyObject(publicKey);
  if (!k) return false;
  try {
    return verify(null, Buffer.from(data), k, Buffer.from(sig, 'base64'));
  } catch {
    return false;
  }
}

export function signStatement(statement: object, key: KeyObject): Signed {
  const text = JSON.stringify(statement);
  return { text, sig: signBytes(text, key) };
}

/** The statement if `s` carries a valid signature by `publicKey` and parses with `schema`; undefined otherwise. */
export function openStatement<T>(s: Signed, publicKey: string, schema: z.ZodType<T>): T | undefined {
  if (!verifyBytes(publicKey, s.text, s.sig)) return undefined;
  try {
    const parsed = schema.safeParse(JSON.parse(s.text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export const ed25519PublicKeySchema = z.string().regex(/^[A-Za-z0-9+/]{43}=$/, 'an Ed25519 public key: base64 of 32 bytes');
