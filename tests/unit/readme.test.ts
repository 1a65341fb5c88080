// The README is the newcomer's entry: its commands and CLI must be true, and so
// must the settings table it links to (docs/configuration.md).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildCli } from '../../src/cli/main.ts';
import { defaultValue, settings } from '../../src/config/settings.ts';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const configuration = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
const ci = readFileSync(new URL('../../.ci/run', import.meta.url), 'utf8');
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> };

describe('README', () => {
  it('shows the two commands, and CI runs exactly its test command', () => {
    expect(readme).toContain('npm ci && npm start');
    expect(readme).toContain('npm test');
    expect(ci).toMatch(/^npm ci\b/m);
    expect(ci).toMatch(/^npm test$/m);
    expect(pkg.scripts.start).toMatch(/src\/cli\/main\.ts start$/);
  });

  it('documents every setting with its real default', () => {
    for (const s of settings) {
      const row = configuration.split('\n').find((l) => l.startsWith(`| \`${s.env}\` |`));
      expect(row, s.env).toBeDefined();
      expect(row).toContain(`\`${s.path}\``);
      expect(row).toContain(`\`${JSON.stringify(defaultValue(s.path)) ?? 'none'}\``);
    }
  });

  it('lists exactly the CLI commands that exist', () => {
    const commands = buildCli().commands.map((c) => c.name()).sort();
    const documented = [...readme.matchAll(/^\| `swarmq (\w+)/gm)].map((m) => m[1]).sort();
    expect(documented).toEqual(commands);
  });
});
