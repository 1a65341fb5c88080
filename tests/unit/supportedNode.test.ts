// The Node releases package.json promises are the ones every locked package
// accepts, and CI runs what a newcomer runs: no system packages.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it, expect } from 'vitest';
import semver from 'semver';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const read = (p: string): string => readFileSync(join(root, p), 'utf8');

interface LockedPackage {
  version?: string;
  engines?: { node?: string } | string[];
  optional?: boolean;
  os?: string[];
}

const pkg = JSON.parse(read('package.json')) as { engines: { node: string } };
const lock = JSON.parse(read('package-lock.json')) as { packages: Record<string, LockedPackage> };

/** The oldest version each line of the range admits: `^22.19.0 || >=24` gives 22.19.0 and 24.0.0. */
function oldestOfEachLine(range: string): string[] {
  return new semver.Range(range).set.map((comparators) => {
    const min = semver.minVersion(new semver.Range(comparators.map((c) => c.value).join(' ')));
    if (!min) throw new Error(`engines.node line "${comparators.join(' ')}" admits no version`);
    return min.version;
  });
}

describe('supported Node releases', () => {
  const oldest = oldestOfEachLine(pkg.engines.node);

  it('admits no Node past its end of life (20 and older)', () => {
    expect(semver.intersects(pkg.engines.node, '<22')).toBe(false);
  });

  it('every locked dependency accepts the oldest release of each supported line', () => {
    const refusals: string[] = [];
    for (const [path, entry] of Object.entries(lock.packages)) {
      const wants = !Array.isArray(entry.engines) ? entry.engines?.node : undefined;
      if (!path || !wants || entry.optional) continue;
      for (const v of oldest) {
        if (!semver.satisfies(v, wants)) refusals.push(`${path.replace(/^node_modules\//, '')}@${entry.version} wants node ${wants}, not ${v}`);
      }
    }
    expect(refusals).toEqual([]);
  });
});

describe('.ci/run', () => {
  const script = read('.ci/run');

  it('installs no system packages', () => {
    expect(script).not.toMatch(/\b(apt-get|apt|dpkg|yum|dnf|apk|brew)\b\s/);
  });

  it('runs npm ci, then the test command the README gives', () => {
    expect(read('README.md')).toMatch(/^npm test\b/m);
    const ci = script.indexOf('npm ci');
    expect(ci).toBeGreaterThan(-1);
    expect(script.indexOf('npm test', ci)).toBeGreaterThan(ci);
  });
});
