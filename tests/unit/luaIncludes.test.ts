// Lua includes (`--- @include "includes/name"`), resolved when a command is loaded (queues/scripts.ts).
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { resolveIncludes } from '../../queues/scripts.ts';

const files = (m: Record<string, string>) => (path: string) => {
  const body = m[path];
  if (body === undefined) throw new Error(`ENOENT ${path}.lua`);
  return body;
};

describe('resolveIncludes', () => {
  it('puts the included file where its line was, and resolves includes inside includes', () => {
    const read = files({ 'includes/a': 'local function a() return b() end\n--- @include "includes/b"\n', 'includes/b': 'local function b() return 1 end\n' });
    expect(resolveIncludes('local x = 1\n--- @include "includes/a"\nreturn a()\n', read)).toBe(
      'local x = 1\nlocal function a() return b() end\nlocal function b() return 1 end\nreturn a()\n',
    );
  });

  it('includes a file once, however many times it is named', () => {
    const read = files({ 'includes/a': '--- @include "includes/c"\nA', 'includes/b': '--- @include "includes/c"\nB', 'includes/c': 'C' });
    const out = resolveIncludes('--- @include "includes/a"\n--- @include "includes/b"\n', read);
    expect(out.match(/^C$/gm)).toHaveLength(1);
    expect(out).toContain('A');
    expect(out).toContain('B');
  });

  it('leaves other comments alone: only a whole `--- @include "…"` line counts', () => {
    const src = '-- @include "includes/a"\nlocal s = \'--- @include "includes/a"\'\n';
    expect(resolveIncludes(src, files({}))).toBe(src);
  });

  it('names the script and the include it could not read', () => {
    expect(() => resolveIncludes('--- @include "includes/missing"\n', files({}), 'x-1.lua')).toThrow(/x-1\.lua includes "includes\/missing", which could not be read/);
  });

  it('refuses a cycle', () => {
    const read = files({ 'includes/a': '--- @include "includes/b"', 'includes/b': '--- @include "includes/a"' });
    expect(() => resolveIncludes('--- @include "includes/a"', read)).toThrow(/include cycle: includes\/a -> includes\/b -> includes\/a/);
  });

  it('leaves no include unresolved in the shipped commands, and the fence check is written once', () => {
    const dir = new URL('../../queues/commands/', import.meta.url);
    const read = (p: string) => readFileSync(new URL(`${p}.lua`, dir), 'utf8');
    const commands = readdirSync(dir).filter((f) => f.endsWith('.lua'));
    let fenceUsers = 0;
    for (const f of commands) {
      const raw = read(f.replace(/\.lua$/, ''));
      if (raw.includes('--- @include "includes/checkFence"')) fenceUsers++;
      // A fence compared inline (GET of the fence, then a `<` against it) belongs in the include.
      expect(raw, f).not.toMatch(/token\s*<\s*seen/);
      expect(resolveIncludes(raw, read, f), f).not.toContain('@include');
    }
    expect(fenceUsers).toBe(4);
  });
});

describe('resolveBullmq', () => {
  it("puts the installed BullMQ's own command where its line was, and refuses a name BullMQ does not have", async () => {
    const { resolveBullmq } = await import('../../queues/scripts.ts');
    const out = resolveBullmq('local function add(KEYS, ARGV)\n--- @bullmq "addStandardJob"\nend\n');
    expect(out.startsWith('local function add(KEYS, ARGV)\n')).toBe(true);
    expect(out).toMatch(/storeJob\(/);
    expect(out.endsWith('\nend\n')).toBe(true);
    expect(() => resolveBullmq('--- @bullmq "noSuchCommand"\n', 'x.lua')).toThrow(/x\.lua runs BullMQ's "noSuchCommand"/);
  });
});
