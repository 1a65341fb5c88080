// The health of an HTTP agent's endpoint (src/health/endpointHealth.ts): which
// exchanges say the endpoint is silent, when its silence began, and its state
// at the heartbeat thresholds' exact boundaries.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { classifyHeartbeat, type HealthThresholds } from '../../src/health/classify.ts';
import {
  agentHealth,
  ANSWERING,
  endpointSilenceSchema,
  endpointState,
  exchangeOutcome,
  judgeEndpoints,
  recordExchange,
  silenceOf,
  type EndpointMemory,
  type EndpointRecord,
  type ExchangeFacts,
  type ExchangeOutcome,
} from '../../src/health/endpointHealth.ts';

const T: HealthThresholds = { degradedAfterMs: 300, criticalAfterMs: 600, failedAfterMs: 900 };
const facts = (f: Partial<ExchangeFacts>): ExchangeFacts => ({ taskAborted: false, timedOut: false, status: undefined, socketError: undefined, ...f });

describe('exchangeOutcome', () => {
  it('answered: any status below 500, the service up and speaking (a 4xx or 429 included)', () => {
    for (const status of [200, 204, 302, 400, 401, 404, 408, 422, 429, 499]) expect(exchangeOutcome(facts({ status })), String(status)).toBe('answered');
  });

  it('unanswered: a 5xx, a refused or reset connection, the request timing out (even mid-answer)', () => {
    for (const status of [500, 502, 503, 504, 599]) expect(exchangeOutcome(facts({ status })), String(status)).toBe('unanswered');
    expect(exchangeOutcome(facts({ socketError: 'ECONNREFUSED' }))).toBe('unanswered');
    expect(exchangeOutcome(facts({ socketError: 'ENOTFOUND' }))).toBe('unanswered');
    // Headers came, then the service died: no usable answer.
    expect(exchangeOutcome(facts({ status: 200, socketError: 'ECONNRESET' }))).toBe('unanswered');
    expect(exchangeOutcome(facts({ timedOut: true }))).toBe('unanswered');
    expect(exchangeOutcome(facts({ status: 200, timedOut: true }))).toBe('unanswered');
  });

  it("nothing when the task's own signal ended it (cancel, its timeout, shutdown), or nothing was learnt", () => {
    expect(exchangeOutcome(facts({ taskAborted: true, socketError: 'ECONNRESET' }))).toBeUndefined();
    expect(exchangeOutcome(facts({ taskAborted: true, status: 503 }))).toBeUndefined();
    expect(exchangeOutcome(facts({ taskAborted: true, timedOut: true }))).toBeUndefined();
    expect(exchangeOutcome(facts({}))).toBeUndefined();
  });
});

describe('recordExchange', () => {
  it('is silent from the first unanswered request since the last answer, until an answer', () => {
    let r: EndpointRecord = ANSWERING;
    r = recordExchange(r, 'answered', 90, 100);
    expect(r).toEqual({ silentSince: null, answeredAt: 100 });
    r = recordExchange(r, 'unanswered', 200, 205);
    expect(r.silentSince).toBe(200);
    // A later failure, and one sent earlier but reported later (a timeout): the silence began at the earliest.
    r = recordExchange(r, 'unanswered', 300, 301);
    expect(r.silentSince).toBe(200);
    r = recordExchange(r, 'unanswered', 150, 400);
    expect(r.silentSince).toBe(150);
    // Sent before the last answer: silent only from that answer on.
    r = recordExchange(r, 'unanswered', 50, 450);
    expect(r.silentSince).toBe(100);
    r = recordExchange(r, 'answered', 460, 470);
    expect(r).toEqual({ silentSince: null, answeredAt: 470 });
  });

  it('never has a silence older than the last answer, and is silent exactly when the last outcome was unanswered', () => {
    const exchange = fc.record({ outcome: fc.constantFrom<ExchangeOutcome>('answered', 'unanswered'), sent: fc.integer({ min: 0, max: 10_000 }), took: fc.integer({ min: 0, max: 5000 }) });
    fc.assert(
      fc.property(fc.array(exchange, { minLength: 1, maxLength: 30 }), (xs) => {
        let r: EndpointRecord = ANSWERING;
        let clock = 0;
        let firstSilent: number | undefined;
        for (const x of xs) {
          // Outcomes are reported in the order they end, on one clock.
          clock = Math.max(clock, x.sent + x.took);
          r = recordExchange(r, x.outcome, Math.min(x.sent, clock), clock);
          if (x.outcome === 'answered') firstSilent = undefined;
          else firstSilent = Math.min(firstSilent ?? Infinity, Math.max(Math.min(x.sent, clock), r.answeredAt ?? -Infinity));
        }
        expect(r.silentSince === null).toBe(xs.at(-1)!.outcome === 'answered');
        if (r.silentSince !== null) {
          expect(r.silentSince).toBe(firstSilent);
          if (r.answeredAt !== null) expect(r.silentSince).toBeGreaterThanOrEqual(r.answeredAt);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('endpointState', () => {
  it('is a silent host: each threshold belongs to the worse state', () => {
    const at = (silentForMs: number) => endpointState(1000, 1000 + silentForMs, T);
    expect([at(0), at(299), at(300), at(599), at(600), at(899), at(900), at(60_000)]).toEqual(['healthy', 'healthy', 'degraded', 'degraded', 'critical', 'critical', 'failed', 'failed']);
    // Silence "from the future" (the host's clock ahead of the monitor's) is taken as just begun.
    expect(at(-500)).toBe('healthy');
  });

  it('equals classifyHeartbeat of the silence for any thresholds', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e9 }), fc.integer({ min: -1e5, max: 1e6 }), (since, age) => {
        expect(endpointState(since, since + age, T)).toBe(classifyHeartbeat(age, T));
      }),
      { numRuns: 300 },
    );
  });
});

describe('silenceOf and the published form', () => {
  const served = new Map([
    ['http://b:2/run', ['write', 'draft']],
    ['http://a:1/run', ['summarize']],
  ]);

  it('lists the silent endpoints in url order with the types each serves; null when all answer', () => {
    expect(silenceOf(new Map(), served)).toBeNull();
    expect(silenceOf(new Map([['http://a:1/run', { silentSince: null, answeredAt: 5 }]]), served)).toBeNull();
    const s = silenceOf(
      new Map<string, EndpointRecord>([
        ['http://b:2/run', { silentSince: 40, answeredAt: 5 }],
        ['http://a:1/run', { silentSince: 30, answeredAt: null }],
      ]),
      served,
    );
    expect(s).toEqual({
      endpoints: [
        { url: 'http://a:1/run', types: ['summarize'], silentSince: 30 },
        { url: 'http://b:2/run', types: ['draft', 'write'], silentSince: 40 },
      ],
    });
    expect(endpointSilenceSchema.parse(JSON.parse(JSON.stringify(s)))).toEqual(s);
  });

  it('refuses what a host would not write', () => {
    for (const bad of [{}, { endpoints: 'x' }, { endpoints: [{ url: '', types: [], silentSince: 1 }] }, { endpoints: [{ url: 'u', types: [1], silentSince: 1 }] }, { endpoints: [{ url: 'u', types: [], silentSince: 'soon' }] }]) {
      expect(endpointSilenceSchema.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    }
  });
});

describe('agentHealth', () => {
  const endpoints = [
    { url: 'http://a/run', types: ['write'], state: 'failed' as const },
    { url: 'http://b/run', types: ['draft'], state: 'degraded' as const },
  ];

  it("is the worse of the host's state and each endpoint serving one of its task types", () => {
    expect(agentHealth('healthy', ['write', 'echo'], endpoints)).toBe('failed');
    expect(agentHealth('healthy', ['draft'], endpoints)).toBe('degraded');
    expect(agentHealth('healthy', ['echo'], endpoints)).toBe('healthy');
    expect(agentHealth('critical', ['draft'], endpoints)).toBe('critical');
    expect(agentHealth('degraded', [], [])).toBe('degraded');
  });
});

describe('judgeEndpoints', () => {
  const url = 'http://a:1/run';
  const silent = (silentSince: number) => [{ url, types: ['write'], silentSince }];
  const agentsOn = (types: readonly string[]) => (types.includes('write') ? 3 : 0);

  it('classifies each round, keeps since while the state holds, and says each change once, back to healthy when it answers', () => {
    let before: Map<string, EndpointMemory> | undefined;
    const round = (list: ReturnType<typeof silent>, now: number) => {
      const r = judgeEndpoints(before, list, now, T, agentsOn);
      before = r.after;
      return r;
    };
    // Silent for less than degradedAfterMs: listed, healthy, no alert.
    let r = round(silent(1000), 1299);
    expect(r.endpoints).toEqual([{ url, types: ['write'], state: 'healthy', since: 1299, silentSince: 1000, silentForMs: 299, agents: 3 }]);
    expect(r.changes).toEqual([]);
    r = round(silent(1000), 1300);
    expect(r.changes).toEqual([{ url, from: 'healthy', to: 'degraded', agents: 3, silentForMs: 300 }]);
    r = round(silent(1000), 1500);
    expect(r.changes).toEqual([]);
    expect(r.endpoints[0]).toMatchObject({ state: 'degraded', since: 1300 });
    // A round missed: degraded straight to failed.
    r = round(silent(1000), 1950);
    expect(r.changes).toEqual([{ url, from: 'degraded', to: 'failed', agents: 3, silentForMs: 950 }]);
    r = round([], 2000);
    expect(r).toEqual({ after: new Map(), endpoints: [], changes: [{ url, from: 'failed', to: 'healthy', agents: 3, silentForMs: 0 }] });
    // Silent again, and answering before it was ever degraded: nothing to say.
    round(silent(3000), 3100);
    expect(round([], 3200).changes).toEqual([]);
  });
});
