// The round's records in Redis, as a certified swarm keeps them, and Byzantine
// hosts that can write them. The simulator's network authenticates senders by
// construction; what it did not model is that an agent host also holds a Redis
// connection, so it can rewrite the roster (rekey an honest agent), write into
// the round's decided hash for any agent, and rewrite the round's spec. Here
// all of that goes through the real trust code: an authority enrolls one
// identity per host and the proposer (certificates.ts), hosts certify their
// agents' keys, the spec is certified (certifySpec), honest decisions are
// signed by their host (signDecision), a key changes only by the runtime's own
// rule (acceptRotatedKey), and the outcome is outcomeOf with decisionCheck.
//
// Checked after every write:
//   - outcome: if the recorded decisions decide, the value is one some honest
//     agent decided (so with no honest decision, nothing is decided);
//   - keys: every key an honest receiver uses for a participant was certified
//     by that participant's own host; a genuine newer certificate is accepted;
//   - specs: a rewritten spec fails verifySpec.
// Byzantine writes may overwrite honest agents' entries: that can only leave
// the round undecided (liveness), which is not checked here; the check is on
// the value.
import { createHash } from 'node:crypto';
import { CertVerifier, certifyAgentKey, enroll, type AgentCert, type Role } from '../../trust/certificates.ts';
import { newSigningKey } from '../../trust/signed.ts';
import { acceptRotatedKey } from '../runtime/keyRotation.ts';
import { outcomeOf } from '../runtime/outcome.ts';
import type { Decision, RoundSpec } from '../runtime/proposal.ts';
import { certifySpec, decisionCheck, signDecision, signSpec, specDigest, verifySpec, type DecisionCheck, type Signer, type VerifiedSpec } from '../runtime/roundProof.ts';
import type { NodeId, Value } from '../protocol.ts';
import type { RunRandom } from './random.ts';

/** Which decisions count: the runtime's rule by default; tests pass a broken one to show the invariant catches it. */
export type OutcomeCheck = (spec: RoundSpec, verifier: CertVerifier) => DecisionCheck | undefined;

/** Per tick and per Byzantine host: the chance that it writes something into Redis. */
export const REDIS_MOVE_CHANCE = 0.05;

interface Agent {
  node: NodeId;
  id: string;
  host: string;
  byzantine: boolean;
  /** Every certificate its own host made for it, oldest first (the last is the one in the roster). */
  certs: { cert: AgentCert; key: string; issuedAt: number }[];
}

/** A key as an honest receiver holds it for one participant. */
interface KeyInUse {
  key: string;
  issuedAt: number;
}

export interface RedisMoveStats {
  /** Decision entries the Byzantine hosts wrote. */
  decisionWrites: number;
  rekeyAttempts: number;
  specRewrites: number;
}

function signer(authority: ReturnType<typeof newSigningKey>, role: Role, name: string): Signer {
  const key = newSigningKey();
  return { ...key, enrollment: enroll(authority.privateKey, role, name, key.publicKey, 1) };
}

const q = (v: unknown): string => JSON.stringify(v);

export class RecordedRound {
  readonly verifier: CertVerifier;
  readonly spec: RoundSpec;
  readonly stats: RedisMoveStats = { decisionWrites: 0, rekeyAttempts: 0, specRewrites: 0 };
  /** The round's decided hash: agent id → decision. */
  readonly decisions = new Map<string, Decision>();
  private readonly agents: Agent[];
  private readonly byNode = new Map<NodeId, Agent>();
  private readonly hosts = new Map<string, Signer>();
  private readonly verified: VerifiedSpec;
  private readonly check: DecisionCheck | undefined;
  /** Values honest agents decided (their first decision, the one their host records and signs). */
  private readonly honestValues = new Set<Value>();
  /** Per honest receiver: the key it uses for each participant. */
  private readonly views = new Map<NodeId, Map<string, KeyInUse>>();
  /** Decision signatures honest hosts made in an earlier round, readable by anyone in Redis: copied by forgers. */
  private prior: Map<string, Decision> | undefined;
  private readonly proposer: Signer;

  constructor(
    nodes: readonly { id: NodeId; byzantine: boolean }[],
    private readonly rng: RunRandom,
    private readonly seed: number,
    private readonly log: (text: string) => void,
    private readonly outcomeCheck: OutcomeCheck = decisionCheck,
  ) {
    const authority = newSigningKey();
    this.verifier = new CertVerifier(authority.publicKey);
    // Honest agents share 1–3 honest hosts; each Byzantine agent is its own Byzantine host, so f Byzantine hosts hold f agents.
    const honest = nodes.filter((n) => !n.byzantine);
    const honestHosts = Math.max(1, rng.int(1, Math.min(3, honest.length)));
    let h = 0;
    const perHost = new Map<string, number>();
    this.agents = nodes.map((n) => {
      const host = n.byzantine ? `x${n.id}` : `h${h++ % honestHosts}`;
      if (!this.hosts.has(host)) this.hosts.set(host, signer(authority, 'host', host));
      const k = (perHost.get(host) ?? 0) + 1;
      perHost.set(host, k);
      const agent: Agent = { node: n.id, id: `${host}-a${k}`, host, byzantine: n.byzantine, certs: [] };
      this.certify(agent, 1000);
      this.byNode.set(n.id, agent);
      return agent;
    });
    const proposer = signer(authority, 'proposer', 'coordinator');
    this.proposer = proposer;
    const certs = Object.fromEntries(this.agents.map((a) => [a.id, a.certs[0]!.cert]));
    this.spec = certifySpec(this.roundSpec(`p-${this.hex(seed, 'round')}`, 'v1'), certs, proposer);
    const verified = verifySpec(this.spec, this.verifier);
    if (typeof verified === 'string') throw new Error(`the simulated round's own spec does not verify (${verified})`);
    this.verified = verified;
    this.check = outcomeCheck(this.spec, this.verifier);
    for (const a of this.agents) {
      if (a.byzantine) continue;
      this.views.set(a.node, new Map(this.agents.map((p) => [p.id, { key: p.certs[0]!.key, issuedAt: verified.keyIssuedAt.get(p.id)! }])));
    }
  }

  /** The hosts, in words, for the run's setup. */
  describe(): string {
    const byHost = new Map<string, string[]>();
    for (const a of this.agents) byHost.set(a.host, [...(byHost.get(a.host) ?? []), `${a.node}=${a.id}`]);
    return `certified records: hosts ${[...byHost].map(([h, as]) => `${h}${h.startsWith('x') ? ' (byzantine)' : ''} [${as.join(' ')}]`).join(', ')}; byzantine hosts write the roster, the decided hash and the spec`;
  }

  /** An honest agent decided: its host records the decision, signed. Returns violations. */
  honestDecided(node: NodeId, value: Value, now: number): string[] {
    const a = this.byNode.get(node)!;
    this.honestValues.add(value);
    const text = q(value);
    this.decisions.set(a.id, { value: text, rounds: 1, at: now, sig: signDecision(this.spec, this.verified.digest, a.id, text, this.hosts.get(a.host)!) });
    return this.outcomeViolations(this.spec, this.check, `after ${node}'s host recorded its decision`);
  }

  /** An honest agent restarted: its host certifies a fresh key and writes it to the roster; every honest receiver looks it up. */
  honestRestart(node: NodeId): string[] {
    const a = this.byNode.get(node)!;
    const fresh = this.certify(a, a.certs[a.certs.length - 1]!.issuedAt + 1);
    this.log(`${node}'s host certifies a fresh key for it (issued ${fresh.issuedAt}) and writes it to the roster`);
    const out: string[] = [];
    for (const [receiver, view] of this.views) {
      const taken = acceptRotatedKey(this.verifier, a.id, a.host, view.get(a.id)?.issuedAt, { consensusCert: fresh.cert });
      if ('rejected' in taken) out.push(`rekey: honest ${receiver} refused ${node}'s genuine newer key (${taken.rejected})`);
      else view.set(a.id, taken);
    }
    return out;
  }

  /** Each Byzantine host may write into Redis this tick. Returns violations. */
  byzantineMoves(now: number): string[] {
    const out: string[] = [];
    for (const b of this.agents) {
      if (!b.byzantine || !this.rng.chance(REDIS_MOVE_CHANCE)) continue;
      const move = this.rng.int(0, 9);
      if (move < 5) out.push(...this.forgeDecisions(b, now));
      else if (move < 8) out.push(...this.rekey(b));
      else out.push(...this.rewriteSpec(b));
      if (out.length) return out;
    }
    return out;
  }

  /** Entries in the decided hash for any agents: bare, signed with the forger's own host key, or with a signature copied from elsewhere. */
  private forgeDecisions(b: Agent, now: number): string[] {
    const forged = `evil-${b.node}`;
    const value = this.rng.chance(0.7) ? forged : this.rng.pick([forged, ...this.honestValues, 'v1', 'v2']);
    const targets = this.rng.chance(0.5) ? this.agents : this.rng.shuffle(this.agents).slice(0, this.rng.int(1, this.agents.length));
    const how = this.rng.pick(['bare', 'own host key', 'copied signature'] as const);
    for (const t of targets) {
      let d: Decision = { value: q(value), rounds: this.rng.int(1, 5), at: now };
      if (how === 'own host key') d = { ...d, sig: signDecision(this.spec, this.verified.digest, t.id, d.value, this.hosts.get(b.host)!) };
      if (how === 'copied signature') d = this.copied(t, d);
      this.decisions.set(t.id, d);
      this.stats.decisionWrites++;
    }
    this.log(`${b.node} (byzantine host) writes ${targets.length} decision(s) = ${q(value)} (${how}) for ${targets.map((t) => t.node).join(',')}`);
    return this.outcomeViolations(this.spec, this.check, `after ${b.node} wrote the decided hash`);
  }

  /**
   * A signature an honest host really made, moved: from this round's entry of
   * another agent or value, or from an earlier round (whose decision is kept
   * with its value, which honest hosts signed there).
   */
  private copied(t: Agent, d: Decision): Decision {
    const signedHere = [...this.decisions.values()].filter((x) => x.sig !== undefined);
    if (signedHere.length > 0 && this.rng.chance(0.5)) return { ...d, sig: this.rng.pick(signedHere).sig! };
    const old = this.priorRound().get(t.id);
    return old ? { ...d, value: old.value, sig: old.sig! } : d;
  }

  /** An earlier round of the same participants, in which every honest host signed its agents' decision for another value. */
  private priorRound(): Map<string, Decision> {
    if (this.prior) return this.prior;
    const spec = signSpec({ ...this.spec, id: `p-${this.hex(this.seed, 'prior')}`, value: q('evil-prior') }, this.proposer);
    const digest = specDigest(spec);
    this.prior = new Map(
      this.agents.filter((a) => !a.byzantine).map((a) => [a.id, { value: q('evil-prior'), rounds: 1, at: 0, sig: signDecision(spec, digest, a.id, q('evil-prior'), this.hosts.get(a.host)!) }]),
    );
    return this.prior;
  }

  /** The roster rewritten to give an honest agent a key of the forger's: honest receivers that look it up apply the runtime's rule. */
  private rekey(b: Agent): string[] {
    const honest = this.agents.filter((a) => !a.byzantine);
    const t = this.rng.pick(honest);
    const key = this.randomKey();
    const how = this.rng.pick(['no certificate', "its own host's certificate", 'a certificate claiming the victim host', 'an old certificate replayed'] as const);
    const forger = this.hosts.get(b.host)!;
    const issuedAt = t.certs[t.certs.length - 1]!.issuedAt + this.rng.int(1, 1000);
    let cert: AgentCert | undefined;
    if (how === "its own host's certificate") cert = certifyAgentKey(forger.privateKey, forger.enrollment, t.id, b.host, key, issuedAt);
    if (how === 'a certificate claiming the victim host') cert = certifyAgentKey(forger.privateKey, this.hosts.get(t.host)!.enrollment, t.id, t.host, key, issuedAt);
    if (how === 'an old certificate replayed') cert = t.certs[this.rng.int(0, t.certs.length - 1)]!.cert;
    this.stats.rekeyAttempts++;
    this.log(`${b.node} (byzantine host) rewrites the roster: ${t.node} gets a new key with ${how}`);
    const out: string[] = [];
    for (const [receiver, view] of this.views) {
      if (receiver === t.node) continue;
      const taken = acceptRotatedKey(this.verifier, t.id, t.host, view.get(t.id)?.issuedAt, { consensusCert: cert });
      if ('rejected' in taken) continue;
      view.set(t.id, taken);
      if (!t.certs.some((c) => c.key === taken.key)) out.push(`rekey: honest ${receiver} now uses a key for ${t.node} that its host never certified (${b.node} wrote it with ${how})`);
    }
    return out;
  }

  /** The spec rewritten in Redis (its value, or its participants), with the proposer's signature kept or the forger's own. */
  private rewriteSpec(b: Agent): string[] {
    const honest = this.agents.filter((a) => !a.byzantine);
    const t = this.rng.pick(honest);
    const how = this.rng.pick(['value', 'a participant moved to its host', 'honest participants dropped'] as const);
    let spec: RoundSpec;
    if (how === 'value') spec = { ...this.spec, value: q(`evil-${b.node}`) };
    else if (how === 'a participant moved to its host') {
      const forger = this.hosts.get(b.host)!;
      const key = this.randomKey();
      const cert = certifyAgentKey(forger.privateKey, forger.enrollment, t.id, b.host, key, 5000);
      // Its certificate put where the spec carries them: whole, or its key statement beside the hosts' enrollments.
      const certified = this.spec.certs ? { certs: { ...this.spec.certs, [t.id]: cert } } : { agentKeys: { ...this.spec.agentKeys, [t.id]: cert.agent } };
      spec = { ...this.spec, participants: this.spec.participants.map((p) => (p.id === t.id ? { ...p, host: b.host, key } : p)), ...certified };
    } else spec = { ...this.spec, participants: this.spec.participants.filter((p) => p.id !== t.id && this.rng.chance(0.5)) };
    if (spec.participants.length === 0) spec = { ...spec, participants: [this.spec.participants.find((p) => p.id === b.id)!] };
    const resigned = this.rng.chance(0.5);
    if (resigned) spec = signSpec(spec, this.hosts.get(b.host)!);
    this.stats.specRewrites++;
    this.log(`${b.node} (byzantine host) rewrites the spec: ${how}${resigned ? ', signed with its own host key' : ''}`);
    const verdict = verifySpec(spec, this.verifier);
    if (typeof verdict !== 'string') return [`spec: a spec ${b.node} rewrote (${how}) passed verifySpec`];
    return this.outcomeViolations(spec, this.outcomeCheck(spec, this.verifier), `read with the spec ${b.node} rewrote`);
  }

  /** Is the outcome, as the driver computes it from the decided hash, a value no honest agent decided? */
  private outcomeViolations(spec: RoundSpec, check: DecisionCheck | undefined, when: string): string[] {
    const result = outcomeOf(spec, this.decisions, {}, check);
    if (!result.decided || (typeof result.value === 'string' && this.honestValues.has(result.value))) return [];
    const honest = this.honestValues.size === 0 ? 'no honest agent has decided' : `honest agents decided ${[...this.honestValues].map(q).join(', ')}`;
    return [`forged outcome: ${when}, the recorded decisions decide ${q(result.value)} with ${result.votes} vote(s), but ${honest}`];
  }

  private certify(a: Agent, issuedAt: number): Agent['certs'][number] {
    const host = this.hosts.get(a.host)!;
    const key = this.randomKey();
    const c = { cert: certifyAgentKey(host.privateKey, host.enrollment, a.id, a.host, key, issuedAt), key, issuedAt };
    a.certs.push(c);
    return c;
  }

  /** An X25519 public key's shape (32 bytes, base64): certificates and specs only carry it, nothing here seals with it. */
  private randomKey(): string {
    return Buffer.from(Array.from({ length: 32 }, () => this.rng.int(0, 255))).toString('base64');
  }

  private roundSpec(id: string, value: Value): RoundSpec {
    const participants = this.agents.map((a) => ({ id: a.id, host: a.host, key: a.certs[0]!.key }));
    return { id, protocol: 'pbft', value: q(value), participants, seed: this.seed, tickMs: 50, timeoutMs: 10_000, createdAt: 0 };
  }

  private hex(seed: number, what: string): string {
    return createHash('sha256').update(`${what}:${seed}`).digest('hex').slice(0, 16);
  }
}
