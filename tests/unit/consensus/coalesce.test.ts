import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { coalesce } from '../../../src/consensus/runtime/round.ts';

type Send = { to: string | 'all'; message: unknown };

/** What each peer receives, in order, from a list of sends among `peers`. */
function perPeer(sends: readonly { to: readonly string[] | string | 'all'; message: unknown }[], peers: readonly string[]): Map<string, string[]> {
  const got = new Map(peers.map((p) => [p, [] as string[]]));
  for (const s of sends) {
    const to = s.to === 'all' ? peers : typeof s.to === 'string' ? [s.to] : s.to;
    for (const p of to) got.get(p)!.push(JSON.stringify(s.message));
  }
  return got;
}

describe('coalesce: one step\'s sends of one message to several peers', () => {
  it('makes the same AppendEntries to 99 followers one send', () => {
    const peers = Array.from({ length: 99 }, (_, i) => `a${i + 2}`);
    const msg = { type: 'append', term: 1, prevLogIndex: 0, prevLogTerm: 0, entries: [{ term: 1, value: null }], leaderCommit: 0 };
    const out = coalesce(peers.map((to) => ({ to, message: msg })));
    expect(out).toEqual([{ to: peers, message: msg }]);
  });

  it('never reorders what a peer receives, nor drops or adds a message', () => {
    const peers = ['p1', 'p2', 'p3'];
    const send = fc.record({ to: fc.constantFrom<string>(...peers, 'all'), message: fc.constantFrom('A', 'B', 'C', { x: 1 }) });
    fc.assert(
      fc.property(fc.array(send, { maxLength: 12 }), (sends: Send[]) => {
        const out = coalesce(sends);
        expect(perPeer(out, peers)).toEqual(perPeer(sends, peers));
        expect(out.length).toBeLessThanOrEqual(sends.length);
      }),
      { numRuns: 2000 },
    );
  });

  it('keeps a message sent twice to one peer twice', () => {
    expect(coalesce([{ to: 'p1', message: 'A' }, { to: 'p1', message: 'A' }])).toEqual([{ to: ['p1'], message: 'A' }, { to: ['p1'], message: 'A' }]);
  });
});
