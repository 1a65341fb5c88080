// The pure parts of HTTP agents: what each status means, Retry-After, the
// lines of a streamed answer, and the request signature checked both ways.
import { describe, expect, it } from 'vitest';
import { judgeStatus, LineSplitter, LineTooLong, MAX_RETRY_AFTER_MS, retryAfterMs, streamLineSchema } from '../../src/agents/httpReply.ts';
import { signature, signedHeaders, verifySignature } from '../../src/agents/httpSignature.ts';

const NOW = Date.parse('2026-12-03T16:00:00Z');

describe('judgeStatus', () => {
  it('reads 2xx as a result, 4xx as permanent, 5xx and 408 as retriable', () => {
    expect(judgeStatus(200, undefined, NOW)).toEqual({ kind: 'result' });
    expect(judgeStatus(204, undefined, NOW)).toEqual({ kind: 'result' });
    for (const s of [400, 401, 403, 404, 409, 413, 422]) expect(judgeStatus(s, undefined, NOW)).toEqual({ kind: 'permanent' });
    for (const s of [500, 502, 503, 504, 408]) expect(judgeStatus(s, '5', NOW)).toEqual({ kind: 'retriable' });
    // Redirects are not followed: a misconfigured URL, not worth retrying.
    expect(judgeStatus(301, undefined, NOW)).toEqual({ kind: 'permanent' });
  });

  it('reads 429 with a usable Retry-After as a delay, and without one as retriable', () => {
    expect(judgeStatus(429, '3', NOW)).toEqual({ kind: 'later', delayMs: 3000 });
    expect(judgeStatus(429, new Date(NOW + 7000).toUTCString(), NOW)).toEqual({ kind: 'later', delayMs: 7000 });
    expect(judgeStatus(429, undefined, NOW)).toEqual({ kind: 'retriable' });
    expect(judgeStatus(429, 'soon', NOW)).toEqual({ kind: 'retriable' });
  });
});

describe('retryAfterMs', () => {
  it('takes delay-seconds and HTTP-dates, capped, never negative', () => {
    expect(retryAfterMs('0', NOW)).toBe(0);
    expect(retryAfterMs(' 12 ', NOW)).toBe(12_000);
    expect(retryAfterMs('999999', NOW)).toBe(MAX_RETRY_AFTER_MS);
    expect(retryAfterMs(new Date(NOW - 5000).toUTCString(), NOW)).toBe(0);
    expect(retryAfterMs('2026-12-03', NOW)).toBeUndefined();
    expect(retryAfterMs('2026', NOW)).toBe(2026_000);
    expect(retryAfterMs('-1', NOW)).toBeUndefined();
    expect(retryAfterMs('1.5', NOW)).toBeUndefined();
  });
});

describe('stream lines', () => {
  it('takes progress, result and error lines, and nothing else', () => {
    expect(streamLineSchema.safeParse({ progress: { tokens: 3 } }).success).toBe(true);
    expect(streamLineSchema.safeParse({ result: null }).success).toBe(true);
    expect(streamLineSchema.safeParse({ error: 'boom', permanent: true }).success).toBe(true);
    expect(streamLineSchema.safeParse({}).success).toBe(false);
    expect(streamLineSchema.safeParse({ progress: 1, result: 2 }).success).toBe(false);
    expect(streamLineSchema.safeParse({ result: 1, extra: true }).success).toBe(false);
    expect(streamLineSchema.safeParse([1]).success).toBe(false);
  });

  it('splits chunks into lines without garbling a character split across chunks', () => {
    const text = Buffer.from('{"progress":"é"}\r\n\n{"result":"ü"}');
    const s = new LineSplitter(100);
    const lines: string[] = [];
    // One byte at a time: every multi-byte character is cut.
    for (const b of text) lines.push(...s.push(Buffer.from([b])));
    expect(lines).toEqual(['{"progress":"é"}']);
    expect(s.end()).toBe('{"result":"ü"}');
  });

  it('refuses a line over the cap before buffering it all', () => {
    const s = new LineSplitter(8);
    expect(s.push(Buffer.from('12345\n1234'))).toEqual(['12345']);
    expect(() => s.push(Buffer.from('56789'))).toThrow(LineTooLong);
  });
});

describe('request signatures', () => {
  const secret = 'a-shared-secret-of-some-length';
  const body = Buffer.from('{"taskId":"n1.x","attempt":2}');

  it('signs the timestamp with the body, and says the idempotency key', () => {
    const h = signedHeaders(secret, body, NOW, 'n1.x', 2);
    expect(h['idempotency-key']).toBe('n1.x:2');
    expect(h['x-swarmq-timestamp']).toBe(String(NOW));
    expect(verifySignature(secret, { timestamp: h['x-swarmq-timestamp'], signature: h['x-swarmq-signature'] }, body, NOW + 1000)).toEqual({ ok: true });
  });

  it('refuses another secret, another body, a moved timestamp and a stale one', () => {
    const sig = signature(secret, NOW, body);
    expect(verifySignature('another-secret-entirely', { timestamp: String(NOW), signature: sig }, body, NOW)).toEqual({ ok: false, why: 'bad signature' });
    expect(verifySignature(secret, { timestamp: String(NOW), signature: sig }, Buffer.from('{"taskId":"n1.y","attempt":2}'), NOW)).toEqual({ ok: false, why: 'bad signature' });
    expect(verifySignature(secret, { timestamp: String(NOW + 1), signature: sig }, body, NOW)).toEqual({ ok: false, why: 'bad signature' });
    expect(verifySignature(secret, { timestamp: String(NOW), signature: sig }, body, NOW + 6 * 60_000).ok).toBe(false);
    expect(verifySignature(secret, { timestamp: undefined, signature: sig }, body, NOW).ok).toBe(false);
    expect(verifySignature(secret, { timestamp: String(NOW), signature: undefined }, body, NOW).ok).toBe(false);
  });
});
