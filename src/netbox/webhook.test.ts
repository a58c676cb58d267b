import { describe, expect, it } from 'vitest';
import { Coalescer, parseEvent, signature, verifySignature } from './webhook.js';

// The body as NetBox's worker sends it, and its signature from `openssl dgst -sha512 -hmac`.
const BODY = '{"event": "created", "model": "ipaddress", "data": {"id": 1}}';
const SIG =
  'ba7f0d75dcf9634d1b370b5fdee6b4312b3a0e2187f1a24b96bc3f9ce0bcb3d6d45048a4be581b2c4287e85470c8254ccce179c85b65055bbd395e38ba9c26bb';

describe('X-Hook-Signature', () => {
  it('is the hex HMAC-SHA512 of the body with the secret (as OpenSSL computes it)', () => {
    expect(signature('nb-secret', BODY)).toBe(SIG);
    expect(verifySignature('nb-secret', Buffer.from(BODY), SIG)).toBe(true);
    expect(verifySignature('nb-secret', Buffer.from(BODY), SIG.toUpperCase())).toBe(true);
  });

  it('refuses another secret, other bytes, a missing, short or non-hex header', () => {
    const body = Buffer.from(BODY);
    expect(verifySignature('other', body, SIG)).toBe(false);
    expect(verifySignature('nb-secret', Buffer.from(`${BODY}\n`), SIG)).toBe(false);
    expect(verifySignature('nb-secret', body, undefined)).toBe(false);
    expect(verifySignature('nb-secret', body, SIG.slice(0, 64))).toBe(false);
    expect(verifySignature('nb-secret', body, `${SIG.slice(0, 127)}g`)).toBe(false);
  });
});

describe('parseEvent', () => {
  it("reads NetBox's default body", () => {
    expect(
      parseEvent({
        event: 'updated',
        timestamp: '2025-04-09 08:00:00+00:00',
        model: 'prefix',
        username: 'admin',
        request_id: 'f0e1',
        data: { id: 12, prefix: '80.67.191.0/24' },
        snapshots: { prechange: {}, postchange: {} },
      }),
    ).toEqual({
      event: 'updated',
      model: 'prefix',
      username: 'admin',
      requestId: 'f0e1',
      objectId: 12,
    });
  });

  it('accepts the app label, and refuses what is not an event', () => {
    expect(parseEvent({ event: 'deleted', model: 'ipam.IPAddress' })?.model).toBe('ipaddress');
    expect(parseEvent([])).toBeUndefined();
    expect(parseEvent({ model: 'prefix' })).toBeUndefined();
    expect(parseEvent('created')).toBeUndefined();
  });
});

describe('Coalescer', () => {
  it('runs once at a time, and once more for any number of triggers meanwhile', async () => {
    let runs = 0;
    let release: () => void = () => undefined;
    const c = new Coalescer(
      () => {
        runs++;
        return new Promise<void>((done) => (release = done));
      },
      () => undefined,
    );
    c.trigger();
    c.trigger();
    c.trigger();
    expect(runs).toBe(1);
    release();
    await new Promise((r) => setImmediate(r));
    expect(runs).toBe(2);
    release();
    await c.idle();
    expect(runs).toBe(2);
  });

  it('reports a failed run and keeps working', async () => {
    const errors: unknown[] = [];
    let n = 0;
    const c = new Coalescer(
      () => (n++ === 0 ? Promise.reject(new Error('NetBox away')) : Promise.resolve()),
      (e) => errors.push(e),
    );
    c.trigger();
    await c.idle();
    c.trigger();
    await c.idle();
    expect(n).toBe(2);
    expect(errors).toHaveLength(1);
  });
});
