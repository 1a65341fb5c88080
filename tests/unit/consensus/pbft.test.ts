// PBFT core (Castro & Liskov, OSDI '99; Castro's thesis, MAC variant): quorum
// sizes, the three-phase normal case, a Byzantine primary that equivocates,
// view change when the primary is silent, a request committed in one view
// carried into the next, a Byzantine new primary whose NEW-VIEW lies, forged
// view-change claims, checkpoints, persistence, the wire schema and the
// simulator spec. Deterministic, no Redis: replicas run on the in-memory
// network the test drives (tests/support/testNet.ts), and the safety
// invariant is checked after every step. Each test states the rule it checks;
// sections are those of Castro & Liskov, "Practical Byzantine Fault Tolerance"
// (OSDI '99), unless Castro's thesis (MIT, 2001) is named.
import { describe, expect, it } from 'vitest';
import type { NodeId, Output } from '../../../src/consensus/protocol.ts';
import { createPbft, faultTolerance, pbft, pbftMessageSchema, primaryOf, quorum, valueDigest, type PbftMessage, type PbftState } from '../../../src/consensus/pbft/index.ts';
import { pbftInvariants } from '../../../src/consensus/pbft/invariants.ts';
import { pbftProposeTo, pbftSimSpec } from '../../../src/consensus/pbft/sim.ts';
import { makeConfig } from '../../../src/consensus/pbft/config.ts';
import { GENESIS_DIGEST } from '../../../src/consensus/pbft/digest.ts';
import { decideNewView } from '../../../src/consensus/pbft/newViewRules.ts';
import type { ViewChangeBody } from '../../../src/consensus/pbft/messages.ts';
import { TestNet, type ByzantineBehaviour as AnyByzantine } from '../../support/testNet.ts';

const ids = (n: number): NodeId[] => Array.from({ length: n }, (_, i) => `n${i}`);

type PbftNet = TestNet<PbftState, PbftMessage>;
type ByzantineBehaviour = AnyByzantine<PbftState, PbftMessage>;

/** A network whose every step is checked against the safety invariant. */
function net(n: number, byzantine: NodeId[] = [], behaviour?: ByzantineBehaviour, protocol = pbft): PbftNet {
  const x = new TestNet(protocol, ids(n), { byzantine, behaviour });
  x.onStep = (y) => {
    const broken = pbftInvariants(y.simNodes());
    if (broken.length > 0) throw new Error(`invariant: ${broken.join('; ')}`);
  };
  return x;
}

/** Every up honest replica's decisions, as "slot=value" strings. */
function decisions(x: PbftNet): Record<NodeId, string[]> {
  const out: Record<NodeId, string[]> = {};
  for (const r of x.honest()) if (r.up) out[r.id] = r.decided.map((d) => `${d.slot}=${d.value}`);
  return out;
}

const allDecided = (x: PbftNet, count: number) => (): boolean => x.honest().every((r) => !r.up || r.decided.length >= count);

const receive = (from: NodeId, message: PbftMessage) => ({ kind: 'receive' as const, from, message });

describe('pbft: sizes', () => {
  // With n = 3f+1 replicas the service tolerates f Byzantine ones, and the certificates of the
  // protocol are 2f+1 matching messages: a quorum.
  // Reference: section 3 (service properties)
  it('f = ⌊(n−1)/3⌋ and quorum 2f+1 when n = 3f+1 (n = 4: 3, n = 16: 11, n = 100: f = 33, quorum 67)', () => {
    expect([faultTolerance(4), quorum(4)]).toEqual([1, 3]);
    expect([faultTolerance(16), quorum(16)]).toEqual([5, 11]);
    expect([faultTolerance(100), quorum(100)]).toEqual([33, 67]);
    expect(pbft.faultTolerance(100)).toBe(33);
    for (let f = 0; f <= 40; f++) expect(quorum(3 * f + 1), `n=${3 * f + 1}`).toBe(2 * f + 1);
  });

  // Any two quorums have a correct replica in common, which is what makes two certificates for the
  // same sequence number agree; and the correct replicas alone can always form a quorum, so faulty
  // ones cannot block progress by silence.
  // Reference: section 3; section 4.5.1
  it('for every n, two quorums share at least f+1 replicas (so an honest one), and the honest replicas alone make a quorum', () => {
    for (let n = 1; n <= 200; n++) {
      const f = faultTolerance(n);
      const q = quorum(n);
      expect(2 * q - n, `n=${n}`).toBeGreaterThanOrEqual(f + 1);
      expect(n - f, `n=${n}`).toBeGreaterThanOrEqual(q);
    }
    // n = 5 tolerates one fault like n = 4, but 2f+1 = 3 would let two quorums meet in one (possibly faulty) replica.
    expect([faultTolerance(5), quorum(5)]).toEqual([1, 4]);
  });

  // The replicas move through numbered views; the primary of view v is replica v mod n, so every
  // replica knows who it is.
  // Reference: section 4 (introduction)
  it('the primary of view v is peers[v mod n]', () => {
    expect([0, 1, 4, 5].map((v) => primaryOf(v, ids(4)))).toEqual(['n0', 'n1', 'n0', 'n1']);
  });
});

describe('pbft: normal case (pre-prepare, prepare, commit)', () => {
  // Three phases: the primary assigns a sequence number and multicasts PRE-PREPARE; each backup
  // that accepts it multicasts PREPARE; once prepared, every replica multicasts COMMIT and executes
  // the request after every lower-numbered one. The primary sends no PREPARE: its PRE-PREPARE
  // stands for it.
  // Reference: section 4.2
  it('n = 4: the primary pre-prepares, backups prepare, all commit and execute in order', () => {
    const x = net(4);
    x.propose('n0', 'x');
    expect(x.inFlight.map((e) => `${e.message.type}→${e.to}`)).toEqual(['pre-prepare→n1', 'pre-prepare→n2', 'pre-prepare→n3']);
    x.deliverLayer();
    expect(new Set(x.inFlight.map((e) => e.message.type))).toEqual(new Set(['prepare']));
    expect(x.inFlight.some((e) => e.from === 'n0')).toBe(false); // the primary's pre-prepare stands for its prepare
    x.settle();
    x.propose('n0', 'y');
    x.settle();
    expect(decisions(x)).toEqual({ n0: ['0=x', '1=y'], n1: ['0=x', '1=y'], n2: ['0=x', '1=y'], n3: ['0=x', '1=y'] });
  });

  // A replica is prepared for (request, view, number) when it holds the request, its PRE-PREPARE
  // and 2f PREPAREs from different backups that match it (same view, number and digest); a backup
  // that accepted a PRE-PREPARE accepts no other for the same view and number.
  // Reference: section 4.2
  it('a backup is prepared only with the pre-prepare and 2f matching prepares from other backups', () => {
    const peers = ids(4);
    const digest = valueDigest('x');
    let s: PbftState = pbft.init('n1', peers, { seed: 1 });
    let out: Output<PbftState, PbftMessage> = pbft.step(s, receive('n0', { type: 'pre-prepare', view: 0, seq: 1, digest, value: 'x' }));
    expect(out.send).toEqual([{ to: 'all', message: { type: 'prepare', view: 0, seq: 1, digest } }]);
    expect(out.persist).toBeDefined(); // its acceptance of the pre-prepare is durable before its prepare leaves
    s = out.state;
    // The primary's own prepare does not count (its pre-prepare is its vote), nor does a prepare for another digest.
    out = pbft.step(s, receive('n0', { type: 'prepare', view: 0, seq: 1, digest }));
    out = pbft.step(out.state, receive('n2', { type: 'prepare', view: 0, seq: 1, digest: valueDigest('y') }));
    expect(out.send).toEqual([]);
    // n2's first vote stands: sending the matching one later changes nothing.
    out = pbft.step(out.state, receive('n2', { type: 'prepare', view: 0, seq: 1, digest }));
    expect(out.send).toEqual([]);
    // Its own prepare and n3's make 2f: prepared, so it commits.
    out = pbft.step(out.state, receive('n3', { type: 'prepare', view: 0, seq: 1, digest }));
    expect(out.send).toEqual([{ to: 'all', message: { type: 'commit', view: 0, seq: 1, digest } }]);
  });

  // A prepared replica multicasts COMMIT; the request is committed-local at a replica once it is
  // prepared and holds 2f+1 matching COMMITs from different replicas (its own included), and then
  // it is executed.
  // Reference: section 4.2
  it('a prepared backup commits; 2f+1 matching commits execute the request', () => {
    const peers = ids(4);
    const digest = valueDigest('x');
    let out = pbft.step(pbft.init('n1', peers, { seed: 1 }), receive('n0', { type: 'pre-prepare', view: 0, seq: 1, digest, value: 'x' }));
    out = pbft.step(out.state, receive('n2', { type: 'prepare', view: 0, seq: 1, digest }));
    expect(out.send).toEqual([{ to: 'all', message: { type: 'commit', view: 0, seq: 1, digest } }]);
    out = pbft.step(out.state, receive('n2', { type: 'commit', view: 0, seq: 1, digest }));
    expect(out.decide).toEqual([]);
    out = pbft.step(out.state, receive('n2', { type: 'commit', view: 0, seq: 1, digest })); // a duplicate counts once
    expect(out.decide).toEqual([]);
    out = pbft.step(out.state, receive('n3', { type: 'commit', view: 0, seq: 1, digest }));
    expect(out.decide).toEqual([{ slot: 0, value: 'x' }]);
  });

  // Certificates need a quorum: with 100 replicas (f = 33) the 67 correct ones commit without the
  // others, and 66 cannot.
  // Reference: sections 3 and 4.2
  it('n = 100: 67 replicas commit (33 silent), 66 cannot', () => {
    for (const [up, decides] of [
      [67, true],
      [66, false],
    ] as const) {
      const x = net(100);
      for (const id of ids(100).slice(up)) x.crash(id);
      x.propose('n0', 'x');
      x.settle();
      const decided = x.honest().filter((r) => r.up && r.decided.length > 0).length;
      expect(decided, `${up} up`).toBe(decides ? up : 0);
    }
  });
});

/** A primary that sends `x` to some backups and `y` to the others (and, for every other message, behaves). */
const equivocatingPrimary =
  (toY: readonly NodeId[]): ByzantineBehaviour =>
  (_self, honest) =>
    honest.send.flatMap((s) => {
      const m = s.message;
      if (m.type !== 'pre-prepare' || s.to !== 'all') return [s];
      return ids(4)
        .filter((p) => p !== 'n0')
        .map((to) => ({ to, message: toY.includes(to) ? { ...m, value: 'y', digest: valueDigest('y') } : m }));
    });

describe('pbft: a Byzantine primary', () => {
  // Prepared certificates from two correct replicas for the same view and number name the same
  // request, since their quorums share a correct replica that prepared only one: a primary that
  // sends different requests to different backups gets at most one of them committed.
  // Reference: section 4.2; section 4.5.1
  it('that equivocates gets at most one value committed; the replica it misled catches up to that value', () => {
    const x = net(4, ['n0'], equivocatingPrimary(['n2']));
    x.propose('n0', 'x');
    x.settle();
    expect(decisions(x)).toEqual({ n1: ['0=x'], n2: [], n3: ['0=x'] });
    x.run(200, allDecided(x, 1));
    expect(decisions(x)).toEqual({ n1: ['0=x'], n2: ['0=x'], n3: ['0=x'] });
  });

  // A backup that holds a request and sees it not executed within its timeout moves to the next
  // view; a primary that misbehaves and then says nothing is replaced, and the request is ordered
  // in the new view.
  // Reference: section 4.4
  it('that splits its backups and then falls silent is replaced by a view change, and the request is decided', () => {
    // n1 gets x, n2 gets y; n3 is down. No value can gather 2f prepares, and the primary never sends anything again.
    let spoke = false;
    const once: ByzantineBehaviour = (self, honest, peers) => {
      if (spoke) return [];
      const out = equivocatingPrimary(['n2'])(self, honest, peers);
      spoke = out.length > 0;
      return out;
    };
    const x = net(4, ['n0'], once);
    x.crash('n3');
    x.propose('n1', 'x'); // the client reaches a backup, which relays it: every honest replica now watches the primary
    x.settle();
    expect(decisions(x)).toEqual({ n1: [], n2: [] });
    expect(x.state('n2').durable.log[1]?.accepted?.value).toBe('y');
    x.restart('n3');
    x.run(300, allDecided(x, 1));
    expect(decisions(x)).toEqual({ n1: ['0=x'], n2: ['0=x'], n3: ['0=x'] });
    for (const id of ['n1', 'n2', 'n3']) expect(x.state(id).durable).toMatchObject({ view: 1, active: true });
  });
});

describe('pbft: view change (Castro & Liskov §4.4; thesis §3.2.4)', () => {
  // A backup starts a timer when it receives a request it has not executed; when the timer expires
  // it stops accepting messages of the view and multicasts VIEW-CHANGE for view v+1. The primary of
  // v+1 collects 2f VIEW-CHANGEs (with its own, a quorum), sends NEW-VIEW and orders the request.
  // Reference: section 4.4
  it('a silent primary is replaced: backups that know of a request time out, change to view 1, and its primary orders it', () => {
    const x = net(4);
    x.crash('n0');
    x.propose('n2', 'x');
    const ticks = x.run(300, allDecided(x, 1));
    expect(decisions(x)).toEqual({ n1: ['0=x'], n2: ['0=x'], n3: ['0=x'] });
    for (const id of ['n1', 'n2', 'n3']) expect(x.state(id).durable).toMatchObject({ view: 1, active: true });
    // Not before the request timeout (2 × electionTicks = 20 ticks).
    expect(ticks).toBeGreaterThanOrEqual(20);
  });

  // When the next view also fails to complete, replicas move on to the view after it, waiting
  // longer each time (the timeout doubles), so some view eventually has a correct primary.
  // Reference: section 4.4; section 4.5.2 (liveness)
  it('two faulty primaries in a row: views 1 and 2 fail, view 3 decides (n = 7, f = 2)', () => {
    const x = net(7);
    x.crash('n0');
    x.crash('n1');
    x.propose('n4', 'x');
    x.run(2000, allDecided(x, 1));
    expect(Object.values(decisions(x))).toEqual(Array(5).fill(['0=x']));
    expect(x.state('n4').durable.view).toBe(2);
  });

  // The NEW-VIEW holds a PRE-PREPARE, in the new view, for every number that some view change shows
  // prepared; a request committed in an earlier view is prepared at a quorum, so it keeps its
  // number in every later view.
  // Reference: section 4.4; section 4.5.1
  it('a request committed at one replica in view 0 is carried into view 1 by the NEW-VIEW, never replaced', () => {
    const x = net(4);
    // Everyone prepares x at sequence number 1; only n1 receives the commits, so only n1 executes it.
    x.dropIf = (e) => e.message.type === 'commit' && e.to !== 'n1';
    x.propose('n0', 'x');
    x.settle();
    expect(decisions(x)).toEqual({ n0: [], n1: ['0=x'], n2: [], n3: [] });
    x.crash('n0');
    x.dropIf = undefined;
    x.propose('n2', 'y'); // a rival request, relayed to all: it must come after x, not take its number
    x.run(300, allDecided(x, 2));
    expect(decisions(x)).toEqual({ n1: ['0=x', '1=y'], n2: ['0=x', '1=y'], n3: ['0=x', '1=y'] });
    const install = x.state('n2').durable.newView;
    expect(install?.view).toBe(1);
    expect(install?.prePrepares[0]).toEqual({ seq: 1, digest: valueDigest('x'), value: 'x' });
  });

  // Between the lowest and the highest number in the view changes, a number with no prepared
  // request gets the null request, which executes as a no-op, so no number is left as a gap.
  // Reference: section 4.4
  it('a sequence number nobody prepared, below one that was, becomes the null request: it takes the number, not a slot', () => {
    const x = net(4);
    // x gets number 1 but its prepares in view 0 are all lost (retransmissions too); z gets number 2 and is prepared
    // everywhere, but cannot execute after the gap.
    x.dropIf = (e) => e.message.type === 'prepare' && e.message.seq === 1 && e.message.view === 0;
    x.propose('n0', 'x');
    x.propose('n0', 'z');
    x.settle();
    expect(x.state('n2').durable.log[2]?.prepared?.value).toBe('z');
    expect(decisions(x)).toEqual({ n0: [], n1: [], n2: [], n3: [] });
    x.crash('n0');
    x.propose('n1', 'y');
    x.run(300, allDecided(x, 2));
    expect(x.state('n1').durable.newView?.prePrepares).toEqual([
      { seq: 1, digest: valueDigest(null), value: null },
      { seq: 2, digest: valueDigest('z'), value: 'z' },
    ]);
    // x was only ever a pre-prepare to the backups, never a request they held: its client must retry it.
    expect(decisions(x)).toEqual({ n1: ['0=z', '1=y'], n2: ['0=z', '1=y'], n3: ['0=z', '1=y'] });
    expect(x.state('n1').durable.lastExec).toBe(3);
  });

  // Backups check a NEW-VIEW by recomputing its pre-prepares from the view changes it carries; one
  // that does not match is rejected, and the backups move to the next view.
  // Reference: section 4.4
  it('a Byzantine new primary whose NEW-VIEW drops a committed request is not followed; the next view keeps it', () => {
    // n1 (primary of view 1) rewrites every NEW-VIEW it sends: the null request, or a value of its own, at every number.
    const lying: ByzantineBehaviour = (_self, honest) =>
      honest.send.map((s) =>
        s.message.type === 'new-view' ? { to: s.to, message: { ...s.message, prePrepares: s.message.prePrepares.map((o, i) => (i % 2 === 0 ? { seq: o.seq, digest: valueDigest(null), value: null } : { seq: o.seq, digest: valueDigest('evil'), value: 'evil' })) } } : s,
      );
    const x = net(4, ['n1'], lying);
    x.dropIf = (e) => e.message.type === 'commit' && e.to !== 'n2';
    x.propose('n0', 'x');
    x.settle();
    expect(decisions(x)).toEqual({ n0: [], n2: ['0=x'], n3: [] });
    x.crash('n0');
    x.dropIf = undefined;
    x.propose('n3', 'y');
    x.run(1000, () => x.honest().filter((r) => r.up).every((r) => r.decided.length >= 2));
    expect(decisions(x)).toEqual({ n2: ['0=x', '1=y'], n3: ['0=x', '1=y'] });
    expect(x.state('n3').durable.view).toBe(2);
  });

  // With MACs a replica cannot prove what it prepared, so a claim in a VIEW-CHANGE counts only when
  // enough others back it: a request is chosen for a number only if a quorum's claims are
  // compatible with it and f+1 replicas claim to have pre-prepared it. One faulty replica cannot
  // put a request that was never prepared ahead of a committed one.
  // Reference: Castro's thesis, section 3.2.4 (conditions A1 and A2)
  it('forged view-change claims (a prepared request that never was) cannot displace a committed one', () => {
    // n = 7, f = 2: n0 crashes, and n6 claims, in every view change it sends, that it prepared "evil" at numbers 1–3 in view 0.
    const forging: ByzantineBehaviour = (_self, honest) =>
      honest.send.map((s) => {
        const m = s.message;
        if (m.type !== 'view-change') return s;
        const evil = [1, 2, 3].map((seq) => ({ seq, view: 0, digest: valueDigest('evil'), value: 'evil' }));
        return { to: s.to, message: { ...m, body: { ...m.body, prepared: evil, prePrepared: evil.map((p) => ({ seq: p.seq, entries: [{ digest: p.digest, view: 0 }] })) } } };
      });
    const x = net(7, ['n6'], forging);
    x.dropIf = (e) => e.message.type === 'commit' && e.to !== 'n1';
    x.propose('n0', 'x');
    x.settle();
    expect(decisions(x).n1).toEqual(['0=x']);
    x.crash('n0');
    x.dropIf = undefined;
    x.propose('n2', 'y');
    x.run(1000, allDecided(x, 2));
    for (const id of ['n1', 'n2', 'n3', 'n4', 'n5']) expect(decisions(x)[id], id).toEqual(['0=x', '1=y']);
    expect(x.state('n2').durable.view).toBe(1);
  });

  // A replica that missed a view change moves to the new view when it learns of it, and fetches
  // what it missed.
  // Reference: section 4.4
  it('a replica cut off through the whole view change joins the new view afterwards and catches up', () => {
    // n = 7, f = 2, quorum 5: with n0 down and n6 cut off, n1–n5 are just enough to change view.
    const x = net(7);
    x.crash('n0');
    x.dropIf = (e) => e.from === 'n6' || e.to === 'n6';
    x.propose('n1', 'x');
    x.run(300, () => ['n1', 'n2', 'n3', 'n4', 'n5'].every((id) => x.node(id).decided.length === 1));
    expect(x.state('n6').durable.view).toBe(0);
    x.dropIf = undefined;
    x.run(300, () => x.node('n6').decided.length === 1);
    expect(x.node('n6').decided).toEqual([{ slot: 0, value: 'x' }]);
    expect(x.state('n6').durable).toMatchObject({ view: 1, active: true });
  });
});

/** A view change for `view` from the genesis checkpoint, claiming `prepared` (value@view) and pre-prepared (value@view) at number 1. */
function claim(view: number, prepared: [string, number] | null, prePrepared: [string, number][] = prepared ? [prepared] : []): { body: ViewChangeBody } {
  return {
    body: {
      view,
      stableSeq: 0,
      checkpoints: [{ seq: 0, digest: GENESIS_DIGEST }],
      prepared: prepared ? [{ seq: 1, view: prepared[1], digest: valueDigest(prepared[0]), value: prepared[0] }] : [],
      prePrepared: prePrepared.length > 0 ? [{ seq: 1, entries: prePrepared.map(([v, w]) => ({ digest: valueDigest(v), view: w })) }] : [],
    },
  };
}

// The new primary picks, for each number, the request the view changes prove may have committed,
// and a backup checks the NEW-VIEW by making the same choice; with MACs the proof is by counting
// claims.
// Reference: Castro's thesis, section 3.2.4
describe('pbft: the new-view decision over 2f+1 view changes (thesis §3.2.4, conditions A1 and A2)', () => {
  const at1 = (r: ReturnType<typeof decideNewView>): string | null => {
    if (r === null) return 'undetermined';
    const o = r.prePrepares.find((p) => p.seq === 1);
    return o === undefined ? 'nothing' : o.value;
  };

  // A request is chosen for a number when a quorum of view changes is compatible with it and f+1
  // claim to have pre-prepared it; with no such request and nothing prepared, there is nothing to
  // order.
  // Reference: Castro's thesis, section 3.2.4 (A1)
  it('a request prepared by a quorum-compatible set and pre-prepared by f+1 is chosen; with nothing prepared there is nothing to order', () => {
    const cfg = makeConfig(4, { seed: 1 });
    expect(at1(decideNewView(cfg, [claim(1, ['x', 0]), claim(1, ['x', 0]), claim(1, null)]))).toBe('x');
    expect(at1(decideNewView(cfg, [claim(1, null), claim(1, null), claim(1, null)]))).toBe('nothing');
  });

  // A request prepared in a later view has superseded one prepared in an earlier view at the same
  // number.
  // Reference: Castro's thesis, section 3.2.4 (A1)
  it('the request prepared in the later view wins over one prepared earlier', () => {
    const cfg = makeConfig(4, { seed: 1 });
    expect(at1(decideNewView(cfg, [claim(2, ['x', 0]), claim(2, ['y', 1], [['y', 1], ['x', 0]]), claim(2, null, [['y', 1]])]))).toBe('y');
  });

  // When no request meets the rule yet, the primary waits for more view changes rather than guess.
  // Reference: Castro's thesis, section 3.2.4
  it('one forged claim in a later view blocks an earlier prepared request without replacing it: wait for more view changes', () => {
    // n = 4: y may have committed in view 1 (prepared by n0, n3 and a lying n1); n1 now claims x@0 and n2 honestly holds x@0.
    // Choosing x would undo y; choosing y needs f+1 = 2 pre-prepare claims for it. The only safe answer is "not yet".
    const cfg = makeConfig(4, { seed: 1 });
    expect(at1(decideNewView(cfg, [claim(2, ['x', 0]), claim(2, ['x', 0]), claim(2, ['y', 1])]))).toBe('undetermined');
    // A fourth view change that pre-prepared y settles it.
    expect(at1(decideNewView(cfg, [claim(2, ['x', 0]), claim(2, ['x', 0], [['x', 0], ['y', 1]]), claim(2, ['y', 1])]))).toBe('y');
  });

  // The null request may take a number only when a quorum shows that nothing was prepared there.
  // Reference: Castro's thesis, section 3.2.4 (A2)
  it('the null request needs 2f+1 replicas that prepared nothing, not f+1', () => {
    // n = 7, f = 2, quorum 5: x prepared in view 0 at n1; a Byzantine claim of "evil" in view 1; three that prepared nothing.
    // x may have committed (n1 and replicas outside this set prepared it): null here would undo it.
    const cfg = makeConfig(7, { seed: 1 });
    const S = [claim(2, ['x', 0]), claim(2, null), claim(2, null), claim(2, null), claim(2, ['evil', 1])];
    expect(at1(decideNewView(cfg, S))).toBe('undetermined');
    // Five that prepared nothing: x cannot have gathered 5 prepares among the other two, so null is safe.
    expect(at1(decideNewView(cfg, [...S.slice(0, 4), claim(2, null), claim(2, null)]))).toBe(null);
  });

  // The new view starts from a checkpoint that at least one correct replica holds (f+1 claims) and
  // that a quorum has not moved past.
  // Reference: Castro's thesis, section 3.2.4; section 4.4
  it('the checkpoint is the highest that f+1 hold and 2f+1 have not passed', () => {
    const cfg = makeConfig(4, { seed: 1 });
    const cp10 = { seq: 10, digest: 'a'.repeat(64) };
    const at = (stableSeq: number, checkpoints: { seq: number; digest: string }[]) => ({ body: { view: 1, stableSeq, checkpoints, prepared: [], prePrepared: [] } });
    const genesis = { seq: 0, digest: GENESIS_DIGEST };
    expect(decideNewView(cfg, [at(0, [genesis, cp10]), at(0, [genesis, cp10]), at(0, [genesis])])?.checkpoint).toEqual(cp10);
    // Only one replica holds checkpoint 10: it may be lying, so the new view starts from 0.
    expect(decideNewView(cfg, [at(0, [genesis, cp10]), at(0, [genesis]), at(0, [genesis])])?.checkpoint).toEqual(genesis);
  });
});

describe('pbft: checkpoints and state transfer', () => {
  // Replicas multicast a CHECKPOINT every so many requests; 2f+1 matching ones make it stable, and
  // messages for numbers up to it are discarded.
  // Reference: section 4.3
  it('2f+1 matching checkpoints make one stable: the log below it is discarded', () => {
    const x = net(4, [], undefined, createPbft({ checkpointInterval: 2 }));
    for (const v of ['a', 'b', 'c', 'd', 'e']) {
      x.propose('n0', v);
      x.settle();
    }
    for (const id of ids(4)) {
      const d = x.state(id).durable;
      expect(d.stable.seq, id).toBe(4);
      expect(Object.keys(d.log).map(Number), id).toEqual([5]);
    }
    expect(decisions(x).n3).toEqual(['0=a', '1=b', '2=c', '3=d', '4=e']);
  });

  // A replica that is behind a stable checkpoint gets the state it lacks from the others, trusting
  // what f+1 of them agree on, and executes in order from there.
  // Reference: section 4.3; Castro's thesis (state transfer)
  it('a replica that slept through many requests catches up from f+1 matching accounts, in order', () => {
    const x = net(4, [], undefined, createPbft({ checkpointInterval: 2 }));
    x.crash('n3');
    for (const v of ['a', 'b', 'c', 'd', 'e', 'f']) {
      x.propose('n0', v);
      x.settle();
    }
    x.restart('n3');
    x.run(200, () => x.node('n3').decided.length === 6);
    expect(decisions(x).n3).toEqual(['0=a', '1=b', '2=c', '3=d', '4=e', '5=f']);
  });
});

// Not rules of the OSDI paper, which assumes replicas never lose what they logged: here a restarted
// replica must come back with it, or it could accept two requests for one number in one view (which
// section 4.2 forbids) or vote again in a view it left (section 4.4).
describe('pbft: persistence and restarts', () => {
  it('a restarted backup never prepares a second request for a number it accepted in the same view', () => {
    const peers = ids(4);
    const out = pbft.step(pbft.init('n1', peers, { seed: 1 }), receive('n0', { type: 'pre-prepare', view: 0, seq: 1, digest: valueDigest('x'), value: 'x' }));
    const restarted = pbft.recover('n1', peers, { seed: 1 }, JSON.parse(JSON.stringify(out.persist)));
    const again = pbft.step(restarted, receive('n0', { type: 'pre-prepare', view: 0, seq: 1, digest: valueDigest('y'), value: 'y' }));
    expect(again.send).toEqual([]);
  });

  it('a replica restarted mid view change stays out of the old view and resends the same view change', () => {
    const x = net(4);
    x.crash('n0');
    x.propose('n1', 'x');
    x.run(25); // past the request timeout: the backups have sent view changes for view 1
    const before = x.state('n2').durable;
    expect(before.view).toBe(1);
    x.crash('n2');
    x.restart('n2');
    expect(x.state('n2').durable).toEqual(before);
    x.run(300, allDecided(x, 1));
    expect(decisions(x)).toEqual({ n1: ['0=x'], n2: ['0=x'], n3: ['0=x'] });
  });

  it('recover refuses a malformed persisted state; nothing persisted is a fresh replica that asks where the others are', () => {
    expect(() => pbft.recover('n0', ids(4), { seed: 1 }, { view: 'one' })).toThrow(/malformed/);
    expect(pbft.recover('n0', ids(4), { seed: 1 }, undefined)).toEqual({ ...pbft.init('n0', ids(4), { seed: 1 }), behind: true });
  });
});

// The wire schema, immutability and the simulator spec are the contract every core meets
// (src/consensus/protocol.ts).
describe('pbft: wire and participants', () => {
  it('the schema is strict', () => {
    const d = valueDigest('x');
    expect(pbftMessageSchema.safeParse({ type: 'prepare', view: 0, seq: 1, digest: d }).success).toBe(true);
    expect(pbftMessageSchema.safeParse({ type: 'prepare', view: 0, seq: 1, digest: d, extra: 1 }).success).toBe(false);
    expect(pbftMessageSchema.safeParse({ type: 'prepare', view: -1, seq: 1, digest: d }).success).toBe(false);
    expect(pbftMessageSchema.safeParse({ type: 'commit', view: 0.5, seq: 1, digest: d }).success).toBe(false);
    expect(pbftMessageSchema.safeParse({ type: 'view-change', body: { view: 1 } }).success).toBe(false);
    expect(pbftMessageSchema.safeParse({ type: 'nonsense' }).success).toBe(false);
  });

  // A backup accepts a PRE-PREPARE only from the primary of its current view and only when the
  // digest is that of the request it carries; messages from strangers are ignored.
  // Reference: section 4.2
  it('a pre-prepare whose digest does not match its value, or from a replica that is not the primary, is ignored', () => {
    const s = pbft.init('n1', ids(4), { seed: 1 });
    expect(pbft.step(s, receive('n0', { type: 'pre-prepare', view: 0, seq: 1, digest: valueDigest('y'), value: 'x' })).send).toEqual([]);
    expect(pbft.step(s, receive('n2', { type: 'pre-prepare', view: 0, seq: 1, digest: valueDigest('x'), value: 'x' })).send).toEqual([]);
    expect(pbft.step(s, receive('mallory', { type: 'request', value: 'x' })).state).toEqual(s);
  });

  it('step never mutates the state it is given (the local network deep-freezes every state)', () => {
    const x = net(4);
    x.propose('n0', 'x');
    x.run(5);
    expect(x.honest().every((r) => r.decided.length === 1)).toBe(true);
  });

  it('the sim spec proposes to the primary of the highest view among up honest replicas, else to some up honest replica', () => {
    const x = net(4);
    expect(pbftProposeTo(x.simNodes(), { int: () => 0, chance: () => false })).toBe('n0');
    x.crash('n0');
    expect(pbftProposeTo(x.simNodes(), { int: () => 1, chance: () => false })).toBe('n2');
    expect(pbftSimSpec.byzantine).toBeDefined();
  });
});
