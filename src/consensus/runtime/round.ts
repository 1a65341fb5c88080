// One round as one agent host runs it: the protocol core of each of its agents
// that take part, each with its own Authenticator. Inputs go in (a sealed
// envelope, a tick, a proposal), the cores step, and their effects go to an
// Outbox: persist records, decisions, sealed messages grouped by the
// destination host's inbox, the round's replay state (replayState.ts), and
// the count of whatever was dropped.
import type { KeyObject } from 'node:crypto';
import { z } from 'zod';
import { Authenticator, envelopeSchema } from '../auth.ts';
import type { Input, NodeId } from '../protocol.ts';
import { encodeWindow, ReplayGuard } from '../replay.ts';
import type { ConsensusKeys } from './keys.ts';
import type { Outbox } from './outbox.ts';
import type { RoundSpec } from './proposal.ts';
import { PROTOCOLS, type ProtocolRuntime } from './protocols.ts';
import { nextSeqField, windowField, type ReplayState } from './replayState.ts';

/** A finished round stays this long, so late and forged messages for it are still opened and counted. */
export const LINGER_MS = 5000;

/**
 * Replay state outlives the round's end by this much: a host never loads a
 * round past its end (roundEndsAt), and this covers its clock jumping back.
 */
const REPLAY_KEEP_AFTER_END_MS = 10 * 60_000;

/** When hosts stop running a round, on their own clocks: its time limit, and the linger after it. */
export function roundEndsAt(spec: Pick<RoundSpec, 'createdAt' | 'timeoutMs'>): number {
  return spec.createdAt + spec.timeoutMs + LINGER_MS;
}

/** What a sealed envelope's body holds: the addressees on the receiving host, and the protocol message. */
const sealedBodySchema = z.strictObject({ to: z.array(z.string().min(1).max(200)).min(1).max(1000), m: z.unknown() });

interface Seat {
  id: NodeId;
  state: unknown;
  auth: Authenticator;
  decided: boolean;
}

export class LocalRound {
  readonly rt: ProtocolRuntime;
  readonly peers: readonly NodeId[];
  private readonly seats = new Map<NodeId, Seat>();
  private readonly inboxOf = new Map<NodeId, string>();
  /** Where decision notices go (the driver's inbox; undefined until a driver has said so); it may change when another driver takes the proposal over. */
  driverInbox: string | undefined;
  finished = false;
  timer: NodeJS.Timeout | undefined;
  /** Each participant's public key as this host uses it now (the spec's, until one is found rotated). */
  readonly keys: Map<NodeId, string>;
  /** Participants whose messages failed their MAC check since the host last looked at their registered key. */
  readonly suspects = new Set<NodeId>();
  tickQueued = false;
  /** Message numbers accepted per sender key, for all seats here: a sender's messages to this host are one sequence. */
  private readonly replay: ReplayGuard;
  private readonly replayKeptUntil: number;
  /** Senders whose window moved since it was last handed to an outbox. */
  private readonly unsaved = new Set<NodeId>();
  /** With a trust anchor: when each participant's certified key was made (a rekey must bring a newer certificate). */
  readonly keyIssuedAt: Map<NodeId, number>;

  /**
   * `persisted`: each local agent's last persist record (undefined: none), so a
   * round this host lost (a failed write, a restart) resumes from Redis; so
   * does `replay`, this host's replay state of the round.
   */
  constructor(
    readonly spec: RoundSpec,
    local: readonly { id: NodeId; key: KeyObject; persisted: unknown; decided: boolean }[],
    keys: ConsensusKeys,
    driverInbox: string | undefined,
    /** Pairwise keys already derived for an agent's private key, kept across rounds. */
    pairKeys: (privateKey: KeyObject) => Map<string, Buffer>,
    replay: ReplayState,
    /** With a trust anchor: the host's signature on a local agent's decision (roundProof.ts), and the certified keys' ages. */
    private readonly proof?: { sign(agent: NodeId, value: string): string; keyIssuedAt: Map<NodeId, number> },
  ) {
    this.keyIssuedAt = proof?.keyIssuedAt ?? new Map();
    this.rt = PROTOCOLS[spec.protocol];
    this.peers = spec.participants.map((p) => p.id);
    this.driverInbox = driverInbox;
    this.keys = new Map(spec.participants.map((p) => [p.id, p.key]));
    for (const p of spec.participants) this.inboxOf.set(p.id, keys.inbox(p.host));
    this.replay = new ReplayGuard(replay.windows.filter(([from]) => this.keys.has(from)));
    this.replayKeptUntil = roundEndsAt(spec) + REPLAY_KEEP_AFTER_END_MS;
    for (const a of local) {
      // A replicated task's round: each agent votes only for its own output (the spec names it per agent).
      const accept = spec.accepts === undefined ? undefined : (spec.accepts[a.id] ?? null);
      const opts = { seed: spec.seed, ...(accept === undefined ? {} : { accept }), ...(this.rt.knownProposal ? { proposal: spec.value } : {}) };
      const state = a.persisted === undefined ? this.rt.protocol.init(a.id, this.peers, opts) : this.rt.protocol.recover(a.id, this.peers, opts, a.persisted);
      const auth = new Authenticator(a.id, a.key, this.keys, spec.id, { pairKeyCache: pairKeys(a.key), replay: this.replay, firstSeq: replay.nextSeq.get(a.id) ?? 0 });
      this.seats.set(a.id, { id: a.id, state, auth, decided: a.decided });
    }
  }

  get id(): string {
    return this.spec.id;
  }

  localAgents(): NodeId[] {
    return [...this.seats.keys()];
  }

  /** Local agents that have decided (a driver that arrives late is told of them). */
  decidedAgents(): NodeId[] {
    return [...this.seats.values()].filter((s) => s.decided).map((s) => s.id);
  }

  has(agent: NodeId): boolean {
    return this.seats.has(agent);
  }

  /** Seal and check with this participant's new public key from now on. */
  rekey(peer: NodeId, publicKey: string): void {
    if (!this.keys.has(peer) || this.keys.get(peer) === publicKey) return;
    for (const seat of this.seats.values()) seat.auth.rekey(peer, publicKey); // sets it in this.keys, which they share
  }

  /** The round's value proposed at this agent, plus whatever starts the protocol there (Raft: campaign now). */
  propose(agent: NodeId, out: Outbox): void {
    const seat = this.seats.get(agent);
    if (!seat) return;
    this.step(seat, { kind: 'propose', value: this.spec.value }, out);
    for (const input of this.rt.kickoff(seat.state, agent)) this.step(seat, input, out);
  }

  tick(out: Outbox): void {
    for (const seat of this.seats.values()) this.step(seat, { kind: 'tick' }, out);
    // Windows of messages that changed nothing durable: written within a tick, off the path of the messages themselves.
    this.saveWindows(out);
  }

  /**
   * A window is written with the first durable effect of the round after it
   * moved (a persist, a decision, a message sent: step), and at the latest on
   * the next tick. So a reloaded host refuses every message whose effects it
   * had stored; one that changed nothing stored and arrives again right after
   * a reload is as good as delivered then for the first time, and the cores
   * take duplicates anyway. Not one write per pass that only tallied votes:
   * on the owner of a quorum ballot that was a round trip more per round.
   */
  private saveWindows(out: Outbox): void {
    for (const from of this.unsaved) out.remember(this.id, windowField(from), encodeWindow(this.replay.windowOf(from)!), this.replayKeptUntil);
    this.unsaved.clear();
  }

  /**
   * A sealed message from the wire (or from an agent of this host). One agent
   * of this host verifies it with its own pairwise key (the sender sealed it
   * for that agent); the authenticated body names every addressee here, and
   * each of them steps it.
   */
  receive(raw: unknown, out: Outbox): void {
    const parsed = envelopeSchema.safeParse(raw);
    if (!parsed.success) return out.reject(this.id, 'malformed');
    const env = parsed.data;
    const verifier = Object.keys(env.macs).find((a) => this.seats.has(a));
    if (verifier === undefined) return out.reject(this.id, 'not-addressed');
    const opened = this.seats.get(verifier)!.auth.openEnvelope(env);
    if (!opened.ok) {
      // A participant whose host restarted seals with a new key: the host looks it up (rekey).
      if (opened.why === 'forged' && this.keys.has(env.from)) this.suspects.add(env.from);
      return out.reject(this.id, opened.why);
    }
    this.unsaved.add(opened.from);
    const body = this.parseBody(opened.body);
    if (!body.ok || !body.to.includes(verifier)) return out.reject(this.id, 'malformed');
    for (const agent of body.to) {
      const seat = this.seats.get(agent);
      if (seat) this.step(seat, { kind: 'receive', from: opened.from, message: body.message }, out);
    }
  }

  private parseBody(text: string): { ok: true; to: string[]; message: unknown } | { ok: false } {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return { ok: false };
    }
    const b = sealedBodySchema.safeParse(json);
    if (!b.success) return { ok: false };
    const m = this.rt.protocol.messageSchema.safeParse(b.data.m);
    return m.success ? { ok: true, to: b.data.to, message: m.data } : { ok: false };
  }

  private step(seat: Seat, input: Input<unknown>, out: Outbox): void {
    const o = this.rt.protocol.step(seat.state, input);
    seat.state = o.state;
    const first = o.decide[0];
    const deciding = first !== undefined && !seat.decided;
    // Stored with what the messages accepted so far led to: reloaded, this host refuses them still.
    if (o.persist !== undefined || o.send.length || deciding) this.saveWindows(out);
    if (o.persist !== undefined) out.persist(this.id, seat.id, o.persist);
    for (const { to, message } of coalesce(o.send)) this.seal(seat, to, message, out);
    // Stored with the messages so numbered: a resumed agent goes on from there, never numbering two alike.
    if (o.send.length) out.remember(this.id, nextSeqField(seat.id), String(seat.auth.nextSeq), this.replayKeptUntil);
    if (deciding) {
      seat.decided = true;
      const sig = this.proof?.sign(seat.id, first.value);
      out.decide(this.id, seat.id, { value: first.value, rounds: this.rt.roundsOf(seat.state), at: Date.now(), ...(sig === undefined ? {} : { sig }) });
      if (this.driverInbox !== undefined) out.send(this.driverInbox, { k: 'decided', round: this.id, agent: seat.id });
    }
  }

  /**
   * One envelope per destination host. It carries one MAC, for the first
   * addressee there, over a body that names all of them: that host holds every
   * addressee's key in one process, so one check there authenticates the
   * message for all of them, and a broadcast among 100 agents on 4 hosts costs
   * 4 MACs instead of 99.
   */
  private seal(seat: Seat, to: readonly NodeId[] | 'all', message: unknown, out: Outbox): void {
    const addressees = to === 'all' ? this.peers.filter((p) => p !== seat.id) : to;
    const byInbox = new Map<string, NodeId[]>();
    for (const a of addressees) {
      const inbox = this.inboxOf.get(a);
      if (inbox === undefined) continue;
      const list = byInbox.get(inbox) ?? [];
      list.push(a);
      byInbox.set(inbox, list);
    }
    for (const [inbox, list] of byInbox) out.send(inbox, { k: 'env', env: seat.auth.seal(JSON.stringify({ to: list, m: message }), [list[0]!]) });
  }
}

/**
 * One step's sends, with one message sent alike to several peers made one
 * send to all of them (a new Raft leader's AppendEntries to 99 followers: 4
 * envelopes, one per host, not 99), as a broadcast is. Each peer still gets
 * its messages in the order the core sent them: a send joins an earlier one
 * only if nothing was sent to that peer (or to all) after it.
 */
export function coalesce(sends: readonly { to: NodeId | 'all'; message: unknown }[]): { to: NodeId[] | 'all'; message: unknown }[] {
  const out: { to: NodeId[] | 'all'; message: unknown }[] = [];
  if (sends.length < 2) {
    for (const { to, message } of sends) out.push({ to: to === 'all' ? 'all' : [to], message });
    return out;
  }
  const byText = new Map<string, number>();
  const lastTo = new Map<NodeId, number>();
  let lastAll = -1;
  for (const { to, message } of sends) {
    if (to === 'all') {
      out.push({ to: 'all', message });
      lastAll = out.length - 1;
      continue;
    }
    const text = JSON.stringify(message);
    const g = byText.get(text);
    const list = g === undefined ? undefined : out[g]!.to;
    if (g !== undefined && list !== 'all' && list !== undefined && g > lastAll && g > (lastTo.get(to) ?? -1)) {
      list.push(to);
      lastTo.set(to, g);
    } else {
      out.push({ to: [to], message });
      byText.set(text, out.length - 1);
      lastTo.set(to, out.length - 1);
    }
  }
  return out;
}

/** The round an envelope claims to belong to, if it has the shape of one. */
export function roundOfEnvelope(raw: unknown): string | undefined {
  const r = envelopeSchema.shape.round.safeParse((raw as { round?: unknown } | null)?.round);
  return r.success ? r.data : undefined;
}
