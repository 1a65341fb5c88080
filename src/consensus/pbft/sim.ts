// What the seeded simulator needs to run PBFT: the core, its invariant, where
// client proposals go, how soon a decision is due after the heal, and how a
// Byzantine replica misbehaves. A Byzantine replica runs the honest core (so it
// knows what to lie about) and replaces what it sends, call by call, with one of:
//   • silence;
//   • equivocation: different pre-prepares (prepares, commits, checkpoints,
//     view changes) for the same view and number to different replicas;
//   • forgery: view changes claiming prepared requests that never were (forged
//     certificates) or hiding those that were, fabricated stable checkpoints, NEW-VIEWs built from view
//     changes it invents for others, false echoes, STATE answers with a made-up
//     history, STATUS lies, acknowledgements of view changes it never saw;
//   • garbage: messages that fail the schema;
//   • honesty, so that its lies mix with valid traffic.
// As primary it never orders a value no client proposed: without client
// signatures (the contract has none) no replica could tell such a value from a
// real request, so that attack is outside what PBFT here can prevent. Values it
// invents appear only where a correct core must never decide them.
import type { NodeId, Output } from '../protocol.ts';
import type { SimNode, SimRandom, SimSpec } from '../sim/spec.ts';
import { primaryOf } from './config.ts';
import { sha256, valueDigest } from './digest.ts';
import { pbft } from './index.ts';
import { pbftInvariants } from './invariants.ts';
import type { MessageOf, PbftMessage, ViewChangeBody } from './messages.ts';
import type { PbftState } from './state.ts';

/**
 * The primary of the highest view among up honest replicas, when it is up and
 * honest; otherwise a random up honest replica (which relays the request to
 * all, so every honest replica watches the primary — what a PBFT client does
 * when the primary does not answer).
 */
export function pbftProposeTo(nodes: readonly SimNode<PbftState>[], rng: SimRandom): NodeId {
  const honestUp = nodes.filter((n) => n.up && !n.byzantine);
  if (honestUp.length === 0) return (nodes[0] as SimNode<PbftState>).id;
  let view = 0;
  for (const n of honestUp) view = Math.max(view, n.state.durable.view);
  const peers = (honestUp[0] as SimNode<PbftState>).state.peers;
  const primary = nodes.find((n) => n.id === primaryOf(view, peers));
  if (primary && primary.up && !primary.byzantine) return primary.id;
  return (honestUp[rng.int(0, honestUp.length - 1)] as SimNode<PbftState>).id;
}

type Send = { to: NodeId | 'all'; message: unknown };

/** Values the replica has seen proposed (requests, its log, its history): safe to equivocate with. */
function knownValues(s: PbftState): string[] {
  const out = new Set<string>(Object.values(s.requests));
  for (const e of Object.values(s.durable.log)) if (e.accepted?.value) out.add(e.accepted.value);
  for (const e of s.durable.history.entries) if (e.value !== null) out.add(e.value);
  return [...out];
}

function pick<T>(rng: SimRandom, xs: readonly T[]): T | undefined {
  return xs.length === 0 ? undefined : xs[rng.int(0, xs.length - 1)];
}

function others(self: NodeId, peers: readonly NodeId[]): NodeId[] {
  return peers.filter((p) => p !== self);
}

/** Per receiver, one of two versions of a message. */
function split(rng: SimRandom, self: NodeId, peers: readonly NodeId[], a: unknown, b: unknown): Send[] {
  return others(self, peers).map((to) => ({ to, message: rng.chance(0.5) ? a : b }));
}

function forgedValue(self: NodeId, rng: SimRandom): string {
  return `forged-by-${self}-${rng.int(0, 999)}`;
}

function forgeBody(rng: SimRandom, self: NodeId, s: PbftState, body: ViewChangeBody): ViewChangeBody {
  const K = s.config.checkpointInterval;
  const h = body.stableSeq;
  const prepared: ViewChangeBody['prepared'] = [];
  const prePrepared: ViewChangeBody['prePrepared'] = [];
  const upTo = h + rng.int(1, Math.min(5, s.config.logSize));
  for (let seq = h + 1; seq <= upTo; seq++) {
    const value = rng.chance(0.5) ? (pick(rng, knownValues(s)) ?? forgedValue(self, rng)) : forgedValue(self, rng);
    const view = Math.max(0, body.view - 1);
    prepared.push({ seq, view, digest: valueDigest(value), value });
    prePrepared.push({ seq, entries: [{ digest: valueDigest(value), view }] });
  }
  const checkpoints = rng.chance(0.5) ? [...body.checkpoints, { seq: h + K, digest: sha256(`forged${rng.int(0, 999)}`) }] : body.checkpoints;
  return { ...body, checkpoints: checkpoints.filter((cp, i, all) => all.findIndex((x) => x.seq === cp.seq) === i), prepared, prePrepared };
}

/** A view change that claims nothing was prepared or pre-prepared above the stable checkpoint: amnesia, pushing the new view towards null requests. */
function hideBody(body: ViewChangeBody): ViewChangeBody {
  return { ...body, prepared: [], prePrepared: [] };
}

function equivocate(rng: SimRandom, self: NodeId, s: PbftState, peers: readonly NodeId[], send: { to: NodeId | 'all'; message: PbftMessage }): Send[] {
  const m = send.message;
  const alt = pick(
    rng,
    knownValues(s).filter((v) => m.type !== 'pre-prepare' || v !== m.value),
  );
  switch (m.type) {
    case 'pre-prepare':
      if (alt === undefined) return others(self, peers).filter(() => rng.chance(0.5)).map((to) => ({ to, message: m }));
      return split(rng, self, peers, m, { ...m, value: alt, digest: valueDigest(alt) });
    case 'prepare':
    case 'commit':
      return split(rng, self, peers, m, { ...m, digest: alt === undefined ? sha256(`x${rng.int(0, 9)}`) : valueDigest(alt) });
    case 'checkpoint':
      return split(rng, self, peers, m, { ...m, digest: sha256(`forged-state-${rng.int(0, 9)}`) });
    case 'view-change':
      return split(rng, self, peers, m, { ...m, body: forgeBody(rng, self, s, m.body) });
    default:
      return [send];
  }
}

function forge(rng: SimRandom, self: NodeId, s: PbftState, peers: readonly NodeId[], send: { to: NodeId | 'all'; message: PbftMessage }): Send[] {
  const m = send.message;
  const fake = forgedValue(self, rng);
  switch (m.type) {
    case 'view-change':
      return [{ to: send.to, message: { ...m, body: rng.chance(0.5) ? forgeBody(rng, self, s, m.body) : hideBody(m.body) } }];
    case 'view-change-ack':
      return [{ to: send.to, message: { ...m, acks: others(self, peers).map((of) => ({ of, digest: sha256(`ack-${of}-${rng.int(0, 9)}`) })) } }];
    case 'new-view': {
      // View changes it claims the others sent: nothing prepared anywhere, so every number gets the null request (or a forged value).
      const viewChanges: MessageOf<'new-view'>['viewChanges'] = m.viewChanges.map((v) => ({
        from: v.from,
        body: { view: m.view, stableSeq: m.checkpoint.seq, checkpoints: [m.checkpoint], prepared: [], prePrepared: [] },
      }));
      const prePrepares = m.prePrepares.map((o) => (rng.chance(0.5) ? { seq: o.seq, digest: valueDigest(null), value: null } : { seq: o.seq, digest: valueDigest(fake), value: fake }));
      return [{ to: send.to, message: { ...m, viewChanges, prePrepares } }];
    }
    case 'new-view-echo':
      return [{ to: send.to, message: { ...m, prePrepares: m.prePrepares.map((o) => ({ seq: o.seq, digest: valueDigest(fake), value: fake })) } }];
    case 'state':
      return [{ to: send.to, message: { ...m, values: m.values.map((v) => (v === null || rng.chance(0.5) ? fake : v)) } }];
    case 'status':
      return [{ to: send.to, message: { ...m, lastExec: m.lastExec + rng.int(1, 50), execDigest: sha256(fake) } }];
    case 'pre-prepare':
    case 'prepare':
    case 'commit':
    case 'checkpoint':
      return equivocate(rng, self, s, peers, send);
    default:
      return [send];
  }
}

const GARBAGE: readonly unknown[] = [
  'hello',
  42,
  null,
  [],
  { type: 'nonsense' },
  { type: 'pre-prepare', view: -1, seq: 1, digest: 'x', value: 'v' },
  { type: 'commit', view: 0.5, seq: 1, digest: 'x' },
  { type: 'status' },
  { type: 'view-change', body: { view: 1 } },
];

function garble(rng: SimRandom, send: { to: NodeId | 'all'; message: PbftMessage }): Send {
  return rng.chance(0.5) ? { to: send.to, message: { ...send.message, extra: rng.int(0, 9) } } : { to: send.to, message: GARBAGE[rng.int(0, GARBAGE.length - 1)] };
}

/** What a Byzantine replica sends instead of its honest output. */
export function pbftByzantine(rng: SimRandom, self: NodeId, honest: Output<PbftState, PbftMessage>, peers: readonly NodeId[]): Send[] {
  const s = honest.state;
  const mode = rng.int(0, 99);
  if (mode < 15) return [];
  if (mode < 25) return [...honest.send.map((x) => garble(rng, x)), { to: 'all', message: GARBAGE[rng.int(0, GARBAGE.length - 1)] }];
  if (mode < 55) return honest.send.flatMap((x) => equivocate(rng, self, s, peers, x));
  if (mode < 75) return honest.send.flatMap((x) => forge(rng, self, s, peers, x));
  return [...honest.send];
}

/**
 * Liveness bound after the heal: a backup's request timeout (20 ticks), then
 * view changes whose timeouts may have backed off to 160 ticks during the
 * faults, for up to two faulty primaries in a row, plus retransmissions and
 * state transfer for replicas the faults left behind.
 */
export const PBFT_LIVENESS_TICKS = 600;

export const pbftSimSpec: SimSpec<PbftState, PbftMessage> = {
  protocol: pbft,
  invariants: pbftInvariants,
  byzantine: pbftByzantine,
  proposeTo: pbftProposeTo,
  livenessTicks: PBFT_LIVENESS_TICKS,
  certifiedRecords: true,
};
