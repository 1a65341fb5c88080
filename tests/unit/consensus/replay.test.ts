// Replay protection: a window of accepted message numbers per sender key
// (replay.ts), what a host persists of it (replayState.ts), and the
// Authenticator checking against it.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Authenticator, generateAgentKeys } from '../../../src/consensus/auth.ts';
import { admit, admitKeyed, decodeWindow, EMPTY_WINDOW, encodeWindow, ReplayGuard, WINDOW, type KeyedWindow, type SeqWindow } from '../../../src/consensus/replay.ts';
import { nextSeqField, parseReplayHash, windowField } from '../../../src/consensus/runtime/replayState.ts';

function run(seqs: readonly number[], from: SeqWindow = EMPTY_WINDOW): { admitted: boolean[]; window: SeqWindow } {
  let w = from;
  const admitted = seqs.map((s) => {
    const next = admit(w, s);
    if (next) w = next;
    return next !== undefined;
  });
  return { admitted, window: w };
}

describe('a sequence window', () => {
  it('admits each number at most once, whatever the order (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(200), { maxLength: 300 }), (seqs) => {
        const { admitted } = run(seqs);
        const once = new Set<number>();
        seqs.forEach((s, i) => {
          if (!admitted[i]) return;
          expect(once.has(s)).toBe(false);
          once.add(s);
        });
      }),
      { numRuns: 500 },
    );
  });

  it('admits every message of a sender that numbers them in increasing order, gaps included (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 1000 }), { maxLength: 200 }), (gaps) => {
        let s = -1;
        const seqs = gaps.map((g) => (s += g));
        expect(run(seqs).admitted.every(Boolean)).toBe(true);
      }),
    );
  });

  it('admits distinct numbers less than WINDOW apart in any order, and none of them again (property)', () => {
    fc.assert(
      fc.property(fc.nat(1e6), fc.uniqueArray(fc.nat(WINDOW - 1), { minLength: 1, maxLength: WINDOW }), (base, offsets) => {
        const seqs = offsets.map((o) => base + o);
        const first = run(seqs);
        expect(first.admitted.every(Boolean)).toBe(true);
        expect(run(seqs, first.window).admitted.some(Boolean)).toBe(false);
      }),
    );
  });

  it('refuses a number WINDOW or more behind the newest (it cannot tell a replay), and junk numbers', () => {
    const w = run([0, 1, 2, 40]).window;
    expect(admit(w, 40 - WINDOW)).toBeUndefined();
    expect(admit(w, 40 - WINDOW + 1)).toBeDefined();
    expect(admit(w, -1)).toBeUndefined();
    expect(admit(w, 1.5)).toBeUndefined();
    expect(admit(w, Number.MAX_SAFE_INTEGER + 2)).toBeUndefined();
  });

  it('a new key starts a new window: a restarted sender\'s first numbers are accepted; the old key\'s numbers are not forgotten while it holds', () => {
    let w: KeyedWindow | undefined;
    for (let s = 0; s < 10; s++) w = admitKeyed(w, 'old-key', s)!;
    expect(admitKeyed(w, 'old-key', 3)).toBeUndefined();
    const fresh = admitKeyed(w, 'new-key', 0);
    expect(fresh).toEqual({ key: 'new-key', window: { top: 0, mask: 1 } });
    expect(admitKeyed(fresh, 'new-key', 0)).toBeUndefined();
    expect(admitKeyed(fresh, 'new-key', 1)).toBeDefined();
  });

  it('survives being written and read back: the restored window admits exactly what the original would (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(300), { maxLength: 100 }), fc.array(fc.nat(300), { maxLength: 100 }), (before, after) => {
        const { window } = run(before);
        const keyed = { key: 'AAAA+/=', window };
        const restored = decodeWindow(encodeWindow(keyed));
        expect(restored).toEqual(keyed);
        expect(run(after, restored!.window).admitted).toEqual(run(after, window).admitted);
      }),
    );
  });

  it('refuses to read a window it did not write', () => {
    for (const bad of ['', '1 2', 'x 0 k', '-1 4 k', '1 4294967296 k', '01 1 k', '1 1 k k', '99999999999999999 1 k']) expect(decodeWindow(bad), bad).toBeUndefined();
  });
});

describe('a host\'s replay guard', () => {
  it('keeps one window per sender, however often it comes back with a new key', () => {
    const g = new ReplayGuard();
    for (let k = 0; k < 50; k++) for (let s = 0; s < 5; s++) expect(g.admit('a', `key${k}`, s)).toBe(true);
    expect(g.admit('b', 'kb', 0)).toBe(true);
    expect(g.size).toBe(2);
    expect(g.windowOf('a')).toMatchObject({ key: 'key49', window: { top: 4 } });
  });

  it('reads back what the host persisted, and refuses to guess at what it cannot read', () => {
    const state = parseReplayHash({ [windowField('a 1')]: encodeWindow({ key: 'k', window: { top: 7, mask: 5 } }), [nextSeqField('me')]: '12' });
    expect(state.windows).toEqual([['a 1', { key: 'k', window: { top: 7, mask: 5 } }]]);
    expect(state.nextSeq).toEqual(new Map([['me', 12]]));
    expect(() => parseReplayHash({ [windowField('a')]: 'garbage' })).toThrow(/replay window for sender a/);
    expect(() => parseReplayHash({ [nextSeqField('me')]: '-3' })).toThrow(/next message number for agent me/);
    expect(() => parseReplayHash({ other: '1' })).toThrow(/unknown field/);
  });
});

describe('authentication with replay windows', () => {
  const keysOf = (ids: string[]) => ids.map((id) => ({ id, ...generateAgentKeys() }));

  it('a sender back with a new key numbers from 0 again, and the receiver accepts those once it uses the new key', () => {
    const [a, b] = keysOf(['a', 'b']);
    const pub = new Map([
      ['a', a!.publicKey],
      ['b', b!.publicKey],
    ]);
    const receiver = new Authenticator('b', b!.privateKey, pub, 'r1');
    const before = new Authenticator('a', a!.privateKey, new Map(pub), 'r1');
    for (let i = 0; i < 5; i++) expect(receiver.open(before.seal(`old ${i}`, ['b'])).ok).toBe(true);
    // a's host restarts: new keys, a new Authenticator numbering from 0.
    const a2 = generateAgentKeys();
    const after = new Authenticator('a', a2.privateKey, new Map([...pub, ['a', a2.publicKey]]), 'r1');
    const first = after.seal('new 0', ['b']);
    expect(first.seq).toBe(0);
    expect(receiver.open(first)).toEqual({ ok: false, why: 'forged' }); // not yet: the receiver still holds the old key
    receiver.rekey('a', a2.publicKey);
    expect(receiver.open(first)).toEqual({ ok: true, from: 'a', body: 'new 0' });
    expect(receiver.open(after.seal('new 1', ['b']))).toMatchObject({ ok: true, body: 'new 1' });
    expect(receiver.open(first)).toEqual({ ok: false, why: 'replayed' });
    expect(receiver.rejected.replayed).toBe(1);
  });

  it('a receiver rebuilt from its persisted windows refuses what it accepted before; a sender resumed at its persisted number is accepted', () => {
    const [a, b] = keysOf(['a', 'b']);
    const pub = new Map([
      ['a', a!.publicKey],
      ['b', b!.publicKey],
    ]);
    const guard = new ReplayGuard();
    const receiver = new Authenticator('b', b!.privateKey, pub, 'r1', { replay: guard });
    const sender = new Authenticator('a', a!.privateKey, pub, 'r1');
    const sent = [0, 1, 2].map((i) => sender.seal(`m${i}`, ['b']));
    for (const e of sent) expect(receiver.open(e).ok).toBe(true);
    const persisted = parseReplayHash({ [windowField('a')]: encodeWindow(guard.windowOf('a')!), [nextSeqField('a')]: String(sender.nextSeq) });

    const reloaded = new Authenticator('b', b!.privateKey, pub, 'r1', { replay: new ReplayGuard(persisted.windows) });
    for (const e of sent) expect(reloaded.open(structuredClone(e))).toEqual({ ok: false, why: 'replayed' });
    const resumed = new Authenticator('a', a!.privateKey, pub, 'r1', { firstSeq: persisted.nextSeq.get('a')! });
    expect(reloaded.open(resumed.seal('after reload', ['b']))).toMatchObject({ ok: true, body: 'after reload' });
  });
});
