// Alerts of one kind from several hosts within a window go out as one group;
// one host's goes out as it was; nothing is lost or sent twice (src/health/alertBurst.ts).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { hold, release, worstSeverity, type BurstAlert, type Bursts } from '../../src/health/alertBurst.ts';

const a = (host: string, at: number, severity: BurstAlert['severity'] = 'warning', reason = 'predicted-degradation'): BurstAlert => ({ at, host, reason, severity });
const empty: Bursts<BurstAlert> = new Map();

describe('alert bursts', () => {
  it('one host: held until the window passes, then released as it was', () => {
    const b = hold(empty, 'k', a('h1', 100), 100);
    expect(release(b, 1099, 1000).out).toEqual([]);
    const r = release(b, 1100, 1000);
    expect(r.out).toEqual([{ kind: 'one', alert: a('h1', 100) }]);
    expect(r.bursts.size).toBe(0);
  });

  it('several hosts within the window: one group; a later alert of the kind starts a new burst', () => {
    let b = hold(empty, 'k', a('h1', 0), 0);
    b = hold(b, 'k', a('h2', 300), 300);
    b = hold(b, 'k', a('h3', 900), 900);
    const r = release(b, 1000, 1000);
    expect(r.out).toEqual([{ kind: 'many', alerts: [a('h1', 0), a('h2', 300), a('h3', 900)] }]);
    const next = hold(r.bursts, 'k', a('h4', 1200), 1200);
    expect(release(next, 1500, 1000).out).toEqual([]);
    expect(release(next, 2200, 1000).out).toEqual([{ kind: 'one', alert: a('h4', 1200) }]);
  });

  it('kinds are kept apart; a host raising the kind again in one window counts once, with its newer alert', () => {
    let b = hold(empty, 'x', a('h1', 0), 0);
    b = hold(b, 'y', a('h2', 10), 10);
    b = hold(b, 'x', a('h1', 20, 'critical'), 20);
    expect(release(b, 5000, 1000).out).toEqual([
      { kind: 'one', alert: a('h1', 20, 'critical') },
      { kind: 'one', alert: a('h2', 10) },
    ]);
  });

  it('a stopping monitor releases everything held, window or not', () => {
    const b = hold(hold(empty, 'k', a('h1', 0), 0), 'k', a('h2', 1), 1);
    expect(release(b, 2, 1000, true)).toMatchObject({ out: [{ kind: 'many' }], bursts: new Map() });
  });

  it('every host that raised a kind is in exactly one release, and a group has two or more hosts', () => {
    const event = fc.record({ host: fc.constantFrom('h1', 'h2', 'h3', 'h4'), kind: fc.constantFrom('x', 'y'), dt: fc.integer({ min: 0, max: 700 }) });
    fc.assert(
      fc.property(fc.array(event, { maxLength: 40 }), (events) => {
        let b = empty;
        let now = 0;
        const released: { kind: string; hosts: string[] }[] = [];
        const raised = new Map<string, Set<string>>();
        const drain = (everything: boolean) => {
          const r = release(b, now, 1000, everything);
          b = r.bursts;
          for (const x of r.out) {
            const alerts = x.kind === 'one' ? [x.alert] : x.alerts;
            if (x.kind === 'many') expect(alerts.length).toBeGreaterThan(1);
            const hosts = alerts.map((y) => y.host);
            expect(new Set(hosts).size).toBe(hosts.length);
            released.push({ kind: alerts[0]!.reason, hosts });
          }
        };
        for (const e of events) {
          now += e.dt;
          drain(false);
          b = hold(b, e.kind, a(e.host, now, 'warning', e.kind), now);
          raised.set(e.kind, (raised.get(e.kind) ?? new Set()).add(e.host));
        }
        drain(true);
        for (const [kind, hosts] of raised) {
          const out = new Set(released.filter((r) => r.kind === kind).flatMap((r) => r.hosts));
          expect(out).toEqual(hosts);
        }
        expect(b.size).toBe(0);
      }),
    );
  });

  it('a group is as severe as its worst alert', () => {
    expect(worstSeverity([a('h1', 0, 'info'), a('h2', 0, 'critical'), a('h3', 0)])).toBe('critical');
    expect(worstSeverity([a('h1', 0, 'info')])).toBe('info');
  });
});
