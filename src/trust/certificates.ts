// The swarm's certificates. An operator holds the swarm's authority key (it
// never enters Redis, nor any swarm process) and enrolls each agent host and
// each proposer (a coordinator, or a program that proposes) by signing its
// identity key: `swarmq trust enroll`. A host signs its agents' consensus keys
// with its identity key, the fresh ones after a restart too. Every process is
// given the authority's public key (the trust anchor), and accepts an agent's
// key only through that chain, never because Redis holds it. An agent's id
// begins with its host's (`<host>-a<n>`), so a host can certify only its own.
import { z } from 'zod';
import { AGENT_ID, HOST_ID } from '../agents/spec.ts';
import { ed25519PublicKeySchema, openStatement, signStatement, signedSchema, type Signed } from './signed.ts';
import type { KeyObject } from 'node:crypto';

export type Role = 'host' | 'proposer';

/** The authority's statement about an enrolled identity: who, in which role, with which key. */
const enrollmentSchema = z.strictObject({
  v: z.literal(1),
  kind: z.literal('enrollment'),
  role: z.enum(['host', 'proposer']),
  /** The host id for a host; a free name for a proposer. */
  name: z.string().regex(HOST_ID),
  key: ed25519PublicKeySchema,
  issuedAt: z.number().int().min(0),
});
export type Enrollment = z.infer<typeof enrollmentSchema>;

/** A host's statement about one of its agents' X25519 consensus keys. */
const agentKeySchema = z.strictObject({
  v: z.literal(1),
  kind: z.literal('agent-key'),
  agent: z.string().regex(AGENT_ID),
  host: z.string().regex(HOST_ID),
  key: z.string().regex(/^[A-Za-z0-9+/]{43}=$/),
  /** When the host made the key: a newer certificate replaces an older one, never the other way. */
  issuedAt: z.number().int().min(0),
});
export type AgentKey = z.infer<typeof agentKeySchema>;

/** An agent's key with the chain that certifies it: what goes into its record and into a round's spec. */
export const agentCertSchema = z.strictObject({ host: signedSchema, agent: signedSchema });
export type AgentCert = z.infer<typeof agentCertSchema>;

export function enroll(authority: KeyObject, role: Role, name: string, key: string, issuedAt = Date.now()): Signed {
  return signStatement(enrollmentSchema.parse({ v: 1, kind: 'enrollment', role, name, key, issuedAt }), authority);
}

export function certifyAgentKey(hostKey: KeyObject, hostEnrollment: Signed, agent: string, host: string, key: string, issuedAt = Date.now()): AgentCert {
  return { host: hostEnrollment, agent: signStatement(agentKeySchema.parse({ v: 1, kind: 'agent-key', agent, host, key, issuedAt }), hostKey) };
}

/** Does `agent` name an agent of `host` (`<host>-a<n>`)? */
export function agentOfHost(agent: string, host: string): boolean {
  return agent.startsWith(`${host}-a`) && /^[1-9][0-9]{0,15}$/.test(agent.slice(host.length + 2));
}

export type CertRejection = 'not-enrolled' | 'wrong-role' | 'revoked' | 'bad-signature' | 'not-its-agent' | 'wrong-key';

/**
 * Checks certificates against the trust anchor. Results are cached by the
 * certificate's text: a round of 100 agents checks 100 chains once, not once
 * per message.
 */
export class CertVerifier {
  private readonly enrollments = new Map<string, Enrollment | CertRejection>();
  private readonly agentKeys = new Map<string, AgentKey | CertRejection>();

  /** `revoked`: enrolled keys no longer trusted (SWARMQ_TRUST_REVOKED). */
  constructor(
    readonly anchor: string,
    private readonly revoked: ReadonlySet<string> = new Set(),
  ) {}

  /** The enrollment `s` states, if the authority signed it for `role`. */
  enrollment(s: Signed, role: Role): Enrollment | CertRejection {
    const cacheKey = `${s.sig}\u0000${s.text}`;
    let e = this.enrollments.get(cacheKey);
    if (e === undefined) {
      e = openStatement(s, this.anchor, enrollmentSchema) ?? 'not-enrolled';
      if (this.enrollments.size > 10_000) this.enrollments.clear();
      this.enrollments.set(cacheKey, e);
    }
    if (typeof e === 'string') return e;
    if (this.revoked.has(e.key)) return 'revoked';
    return e.role === role ? e : 'wrong-role';
  }

  /**
   * The agent key `cert` certifies, if its host is enrolled, signed it, and
   * the agent is that host's; with `expect`, only if it is about that agent
   * (and host, when given).
   */
  agentKey(cert: AgentCert, expect?: { agent: string; host?: string }): AgentKey | CertRejection {
    const host = this.enrollment(cert.host, 'host');
    if (typeof host === 'string') return host;
    const cacheKey = `${host.key}\u0000${cert.agent.sig}\u0000${cert.agent.text}`;
    let a = this.agentKeys.get(cacheKey);
    if (a === undefined) {
      const stated = openStatement(cert.agent, host.key, agentKeySchema);
      a = !stated ? 'bad-signature' : stated.host !== host.name || !agentOfHost(stated.agent, stated.host) ? 'not-its-agent' : stated;
      if (this.agentKeys.size > 50_000) this.agentKeys.clear();
      this.agentKeys.set(cacheKey, a);
    }
    if (typeof a === 'string') return a;
    if (expect && (a.agent !== expect.agent || (expect.host !== undefined && a.host !== expect.host))) return 'not-its-agent';
    return a;
  }
}
