// Secrets from files: for a secret setting VAR, `VAR_FILE` names a file that
// holds its value (Docker and Compose secrets, Kubernetes secret volumes), so
// the secret need not sit in the environment or in docker-compose.yml. Setting
// both is an error naming both; a file that is missing, unreadable or empty
// fails at start with its path. One trailing newline is dropped (editors and
// `echo` add one); any other whitespace is kept, since it may be the secret's.
import { readFileSync } from 'node:fs';

export class SecretFileError extends Error {}

/** `env` with each `<name>` whose `<name>_FILE` is set filled from that file; `env` itself is not changed. */
export function withSecretFiles(env: NodeJS.ProcessEnv, names: readonly string[], read: (path: string) => string = (p) => readFileSync(p, 'utf8')): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...env };
  for (const name of names) {
    const path = env[`${name}_FILE`];
    if (path === undefined || path === '') continue;
    if (env[name] !== undefined && env[name] !== '') throw new SecretFileError(`${name} and ${name}_FILE are both set: set one (${name}_FILE names a file holding the value)`);
    let text: string;
    try {
      text = read(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'a directory, not a file' : (err as Error).message;
      throw new SecretFileError(`${name}_FILE=${path}: cannot read it (${why})`);
    }
    const value = text.replace(/\r?\n$/, '');
    if (value === '') throw new SecretFileError(`${name}_FILE=${path}: the file is empty; write the secret into it`);
    out[name] = value;
  }
  return out;
}
