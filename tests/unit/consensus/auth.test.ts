// Message authentication between agents: MACs over pairwise X25519 keys.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Authenticator, generateAgentKeys, type Envelope } from '../../../src/consensus/auth.ts';

function participants(n: number, round = 'r1') {
  const keys = Array.from({ length: n }, (_, i) => ({ id: `a${i}`, ...generateAgentKeys() }));
  const pub = new Map(keys.map((k) => [k.id, k.publicKey]));
  return keys.map((k) => new Authenticator(k.id, k.privateKey, pub, round));
}

describe('consensus message authentication', () => {
  it('every receiver opens a broadcast with its own MAC; the body and sender come through', () => {
    const [a, b, c] = participants(3);
    const e = a!.seal('{"vote":"x"}', ['a1', 'a2']);
    expect(b!.open(e)).toEqual({ ok: true, from: 'a0', body: '{"vote":"x"}' });
    expect(c!.open(e)).toEqual({ ok: true, from: 'a0', body: '{"vote":"x"}' });
  });

  it('a replayed message is dropped and counted', () => {
    const [a, b] = participants(2);
    const e = a!.seal('hello', ['a1']);
    expect(b!.open(e).ok).toBe(true);
    expect(b!.open(structuredClone(e))).toEqual({ ok: false, why: 'replayed' });
    expect(b!.rejected.replayed).toBe(1);
  });

  it('a message claiming another sender, or with a changed body, or for another round, is forged or malformed', () => {
    const [a, b, c] = participants(3);
    const e = a!.seal('vote x', ['a1', 'a2']);
    expect(c!.open({ ...e, from: 'a1' })).toEqual({ ok: false, why: 'forged' });
    expect(c!.open({ ...e, body: 'vote y' })).toEqual({ ok: false, why: 'forged' });
    expect(c!.open({ ...e, seq: e.seq + 1 })).toEqual({ ok: false, why: 'forged' });
    expect(c!.open({ ...e, round: 'r2' })).toEqual({ ok: false, why: 'malformed' });
    // A receiver's own MAC cannot be lifted onto a message for someone else.
    const onlyForB = a!.seal('for b', ['a1']);
    expect(c!.open({ ...onlyForB, macs: { a2: onlyForB.macs.a1! } })).toEqual({ ok: false, why: 'forged' });
    expect(b!.open(e).ok).toBe(true);
  });

  it('a non-participant, with keys of its own, is rejected; so is garbage', () => {
    const [, b] = participants(2);
    const outsider = participants(1)[0]!;
    const forged = { round: 'r1', from: 'mallory', seq: 0, body: 'x', macs: { a1: 'AAAA' } };
    expect(b!.open(forged)).toEqual({ ok: false, why: 'non-participant' });
    expect(() => outsider.seal('x', ['a1'])).toThrow(/not a participant/);
    expect(b!.open('garbage')).toEqual({ ok: false, why: 'malformed' });
    expect(b!.open({ round: 'r1' })).toEqual({ ok: false, why: 'malformed' });
    expect(b!.rejected).toMatchObject({ 'non-participant': 1, malformed: 2 });
  });

  it('any change to a sealed message is rejected (property)', () => {
    const [a, b] = participants(2);
    fc.assert(
      fc.property(fc.string(), fc.string({ minLength: 1 }), (body, other) => {
        const e: Envelope = a!.seal(body, ['a1']);
        fc.pre(other !== body);
        expect(b!.open({ ...e, body: other }).ok).toBe(false);
        expect(b!.open(e).ok).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
