// The certificate chain (authority → host or proposer → agent key), a
// round's signed spec and host-signed decisions: what each check accepts and
// what it refuses, and the identity files `swarmq trust` writes.
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateAgentKeys } from '../../src/consensus/auth.ts';
import { certifySpec, decisionCheck, decisionRecorded, signDecision, signSpec, verifySpec } from '../../src/consensus/runtime/roundProof.ts';
import type { RoundSpec } from '../../src/consensus/runtime/proposal.ts';
import { trustEnroll, trustInit } from '../../src/cli/trust.ts';
import { agentOfHost, CertVerifier, certifyAgentKey } from '../../src/trust/certificates.ts';
import { loadIdentity } from '../../src/trust/identity.ts';
import { newSigningKey } from '../../src/trust/signed.ts';
import { testAuthority } from '../support/trust.ts';

describe('certificates', () => {
  it('accepts an agent key its enrolled host certified, and refuses every other chain', () => {
    const a = testAuthority();
    const v = new CertVerifier(a.anchor);
    const h1 = a.identity('host', 'h1');
    const key = generateAgentKeys().publicKey;
    const cert = certifyAgentKey(h1.privateKey, h1.enrollment, 'h1-a3', 'h1', key, 5);
    expect(v.agentKey(cert, { agent: 'h1-a3', host: 'h1' })).toMatchObject({ agent: 'h1-a3', host: 'h1', key, issuedAt: 5 });
    // About another agent than asked, or a host's cert of another host's agent.
    expect(v.agentKey(cert, { agent: 'h1-a4' })).toBe('not-its-agent');
    const h2 = a.identity('host', 'h2');
    expect(v.agentKey(certifyAgentKey(h2.privateKey, h2.enrollment, 'h1-a3', 'h2', key))).toBe('not-its-agent');
    expect(v.agentKey(certifyAgentKey(h2.privateKey, h2.enrollment, 'h1-a3', 'h1', key))).toBe('not-its-agent');
    // Signed with a key other than the enrolled one; a host enrolled by another authority; a proposer posing as a host.
    expect(v.agentKey(certifyAgentKey(newSigningKey().privateKey, h1.enrollment, 'h1-a3', 'h1', key))).toBe('bad-signature');
    const other = testAuthority().identity('host', 'h1');
    expect(v.agentKey(certifyAgentKey(other.privateKey, other.enrollment, 'h1-a3', 'h1', key))).toBe('not-enrolled');
    const p = a.identity('proposer', 'h1');
    expect(v.agentKey(certifyAgentKey(p.privateKey, p.enrollment, 'h1-a3', 'h1', key))).toBe('wrong-role');
    // Edited text keeps its old signature: refused.
    const edited = { ...cert, agent: { ...cert.agent, text: cert.agent.text.replace(key, generateAgentKeys().publicKey) } };
    expect(v.agentKey(edited)).toBe('bad-signature');
  });

  it('refuses every chain through a revoked enrollment: its agents, its specs, its decisions', () => {
    const a = testAuthority();
    const h1 = a.identity('host', 'h1');
    const p = a.identity('proposer', 'c1');
    const key = generateAgentKeys().publicKey;
    const cert = certifyAgentKey(h1.privateKey, h1.enrollment, 'h1-a1', 'h1', key);
    expect(new CertVerifier(a.anchor, new Set([h1.publicKey])).agentKey(cert)).toBe('revoked');
    expect(new CertVerifier(a.anchor, new Set([p.publicKey])).enrollment(p.enrollment, 'proposer')).toBe('revoked');
    const s = certifySpec(spec([{ id: 'h1-a1', host: 'h1', key }]), { 'h1-a1': cert }, p);
    expect(typeof verifySpec(s, new CertVerifier(a.anchor))).toBe('object');
    expect(verifySpec(s, new CertVerifier(a.anchor, new Set([p.publicKey])))).toBe('bad-spec-signature');
    expect(verifySpec(s, new CertVerifier(a.anchor, new Set([h1.publicKey])))).toBe('uncertified-participant');
  });

  it("names an agent of a host only as `<host>-a<n>`, so hosts whose ids share a beginning cannot claim each other's agents", () => {
    expect(agentOfHost('h1-a2', 'h1')).toBe(true);
    expect(agentOfHost('h1-a2-a3', 'h1-a2')).toBe(true);
    expect(agentOfHost('h1-a2-a3', 'h1')).toBe(false);
    expect(agentOfHost('h1-a0', 'h1')).toBe(false);
    expect(agentOfHost('h10-a1', 'h1')).toBe(false);
  });
});

function spec(participants: { id: string; host: string; key: string }[]): RoundSpec {
  return { id: 'p-0123456789abcdef', protocol: 'pbft', value: '"good"', participants, seed: 1, tickMs: 50, timeoutMs: 1000, createdAt: 1 };
}

describe('signed specs and decisions', () => {
  const a = testAuthority();
  const v = new CertVerifier(a.anchor);
  const hosts = { h1: a.identity('host', 'h1'), h2: a.identity('host', 'h2') };
  const proposer = a.identity('proposer', 'coordinator');
  const agents = [
    { id: 'h1-a1', host: 'h1' as const },
    { id: 'h2-a1', host: 'h2' as const },
  ].map((x) => ({ ...x, key: generateAgentKeys().publicKey }));
  const certs = Object.fromEntries(agents.map((x) => [x.id, certifyAgentKey(hosts[x.host].privateKey, hosts[x.host].enrollment, x.id, x.host, x.key)]));
  const signed = certifySpec(spec(agents), certs, proposer);

  it('verifies a spec an enrolled proposer signed, and refuses one changed after', () => {
    const ok = verifySpec(signed, v);
    expect(typeof ok).toBe('object');
    expect(verifySpec(spec(agents), v)).toBe('unsigned-spec');
    expect(verifySpec({ ...signed, value: '"evil"' }, v)).toBe('bad-spec-signature');
    const swapped = signed.participants.map((p, i) => (i === 0 ? { ...p, key: generateAgentKeys().publicKey } : p));
    expect(verifySpec({ ...signed, participants: swapped }, v)).toBe('bad-spec-signature');
    // Re-signed by a host (not a proposer), or with a participant whose key its certificate does not state.
    expect(verifySpec(certifySpec(spec(agents), certs, hosts.h1), v)).toBe('bad-spec-signature');
    expect(verifySpec(certifySpec(spec(swapped), certs, proposer), v)).toBe('uncertified-participant');
  });

  it("writes each host's enrollment once; a spec with whole certificates (an older one) verifies too", () => {
    const many = [1, 2, 3, 4].map((n) => ({ id: `h1-a${n}`, host: 'h1' as const, key: generateAgentKeys().publicKey }));
    const manyCerts = Object.fromEntries(many.map((x) => [x.id, certifyAgentKey(hosts.h1.privateKey, hosts.h1.enrollment, x.id, x.host, x.key)]));
    const slim = certifySpec(spec(many), manyCerts, proposer);
    expect(slim.certs).toBeUndefined();
    expect(Object.keys(slim.hostEnrollments ?? {})).toEqual(['h1']);
    expect(Object.keys(slim.agentKeys ?? {})).toEqual(many.map((x) => x.id));
    expect(typeof verifySpec(slim, v)).toBe('object');
    const whole = signSpec({ ...spec(many), certs: manyCerts }, proposer);
    expect(typeof verifySpec(whole, v)).toBe('object');
    expect(JSON.stringify(slim).length).toBeLessThan(JSON.stringify(whole).length * 0.75);
    // One host's agents certified under two enrollments (it enrolled again): every certificate goes in whole.
    const again = a.identity('host', 'h1');
    const mixed = { ...manyCerts, 'h1-a4': certifyAgentKey(again.privateKey, again.enrollment, 'h1-a4', 'h1', many[3]!.key) };
    const mixedSpec = certifySpec(spec(many), mixed, proposer);
    expect(mixedSpec.certs).toEqual(mixed);
    expect(mixedSpec.hostEnrollments).toBeUndefined();
    expect(typeof verifySpec(mixedSpec, v)).toBe('object');
  });

  it("refuses a key statement another host signed, or one put beside another host's enrollment, even in a spec the proposer signed", () => {
    const key = agents[0]!.key;
    // h2 signs a statement for h1's agent, carried beside h1's enrollment; then beside h2's own.
    const byH2 = certifyAgentKey(hosts.h2.privateKey, hosts.h1.enrollment, 'h1-a1', 'h1', key);
    expect(verifySpec(certifySpec(spec(agents), { ...certs, 'h1-a1': byH2 }, proposer), v)).toBe('uncertified-participant');
    const underH2 = certifyAgentKey(hosts.h2.privateKey, hosts.h2.enrollment, 'h1-a1', 'h1', key);
    expect(verifySpec(certifySpec(spec(agents), { ...certs, 'h1-a1': underH2 }, proposer), v)).toBe('uncertified-participant');
    // A spec whose statements lack one participant's.
    const { 'h2-a1': _dropped, ...short } = certs;
    expect(verifySpec(certifySpec(spec(agents), short, proposer), v)).toBe('uncertified-participant');
  });

  it("counts a decision only with its own host's signature over this spec and value", () => {
    const ok = verifySpec(signed, v);
    if (typeof ok === 'string') throw new Error(ok);
    const check = decisionCheck(signed, v);
    const d = (value: string, sig?: string) => ({ value, rounds: 1, at: 2, ...(sig ? { sig } : {}) });
    expect(check.counts('h1-a1', d('"good"', signDecision(signed, ok.digest, 'h1-a1', '"good"', hosts.h1)))).toBe(true);
    expect(check.counts('h1-a1', d('"good"'))).toBe(false);
    expect(check.counts('h1-a1', d('"evil"', signDecision(signed, ok.digest, 'h1-a1', '"good"', hosts.h1)))).toBe(false);
    // h2 signing for h1's agent; a signature over another spec.
    expect(check.counts('h1-a1', d('"good"', signDecision(signed, ok.digest, 'h1-a1', '"good"', hosts.h2)))).toBe(false);
    expect(check.counts('h1-a1', d('"good"', signDecision(signed, 'another digest', 'h1-a1', '"good"', hosts.h1)))).toBe(false);
    expect(decisionCheck(spec(agents), v)).toMatchObject({ problem: 'unsigned-spec' });
  });

  it("a host reloading a round takes its agent as decided only on an entry it signed, never a forged or garbled one", () => {
    const ok = verifySpec(signed, v);
    if (typeof ok === 'string') throw new Error(ok);
    const entry = (value: string, sig?: string) => JSON.stringify({ value, rounds: 1, at: 2, ...(sig ? { sig } : {}) });
    expect(decisionRecorded(signed, ok, 'h1-a1', entry('"good"', signDecision(signed, ok.digest, 'h1-a1', '"good"', hosts.h1)))).toBe(true);
    expect(decisionRecorded(signed, ok, 'h1-a1', entry('"evil"'))).toBe(false);
    expect(decisionRecorded(signed, ok, 'h1-a1', entry('"evil"', signDecision(signed, ok.digest, 'h1-a1', '"evil"', hosts.h2)))).toBe(false);
    expect(decisionRecorded(signed, ok, 'h1-a1', 'not json')).toBe(false);
    expect(decisionRecorded(signed, ok, 'h1-a1', undefined)).toBe(false);
    // Without an anchor any well-formed entry is taken, as before.
    expect(decisionRecorded(signed, undefined, 'h1-a1', entry('"evil"'))).toBe(true);
  });
});

describe('swarmq trust init | enroll', () => {
  it('writes an authority and identities (mode 0600) that load against the printed anchor, and refuses to overwrite one', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'swarmq-trust-')), 'trust');
    const { anchor, file } = trustInit(dir);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(() => trustInit(dir)).toThrow(/exists/);
    const host = trustEnroll(file, 'host', 'h1', undefined);
    expect(statSync(host.file).mode & 0o777).toBe(0o600);
    expect(loadIdentity(host.file, anchor, 'host', 'h1')).toMatchObject({ role: 'host', name: 'h1' });
    expect(() => loadIdentity(host.file, anchor, 'host', 'h2')).toThrow(/enrolls host "h1", but this host is "h2"/);
    expect(() => loadIdentity(host.file, anchor, 'proposer')).toThrow(/enrolls a host, not a proposer/);
    expect(() => loadIdentity(host.file, testAuthority().anchor, 'host')).toThrow(/not enrolled by the authority SWARMQ_TRUST_ANCHOR names/);
    expect(() => loadIdentity(host.file, anchor, 'host', 'h1', new Set([host.key]))).toThrow(/revoked identity/);
    expect(() => trustEnroll(file, 'host', 'no spaces', undefined)).toThrow(/letters, digits/);
    const junk = join(dir, 'junk.json');
    writeFileSync(junk, '{"kind":"swarmq-identity"}');
    expect(() => loadIdentity(junk, anchor, 'host')).toThrow(/not an identity file/);
    expect(() => loadIdentity(join(dir, 'missing.json'), anchor, 'host')).toThrow(/cannot read the host identity file at .*missing\.json: ENOENT/);
    const p = trustEnroll(file, 'proposer', 'c1', undefined);
    expect(loadIdentity(p.file, anchor, 'proposer').name).toBe('c1');
    // An enrollment for another key than the one the file holds.
    const held = JSON.parse(readFileSync(p.file, 'utf8')) as { enrollment: unknown };
    const swapped = join(dir, 'swapped.json');
    writeFileSync(swapped, JSON.stringify({ ...JSON.parse(readFileSync(host.file, 'utf8')), enrollment: held.enrollment }));
    expect(() => loadIdentity(swapped, anchor, 'proposer')).toThrow(/enrollment is for another key/);
  });
});
