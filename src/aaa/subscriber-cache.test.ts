import { describe, expect, it } from 'vitest';
import type { AuthSubscriber } from './ports.js';
import { SubscriberCache } from './subscriber-cache.js';

const alice: AuthSubscriber = {
  username: 'alice@R',
  status: 'active',
  password: 'pw',
  ipv4: null,
  ipv6Prefix: null,
  delegatedPrefix: null,
  mtu: null,
  portLimit: null,
  interim: null,
};

describe('the subscriber cache', () => {
  it('asks the store once per name until something changes', async () => {
    let counter = 0;
    let calls = 0;
    let current: AuthSubscriber | undefined = alice;
    const cache = new SubscriberCache(
      { findForAuth: (u) => (calls++, Promise.resolve(u === 'alice@R' ? current : undefined)) },
      () => counter,
    );
    expect(await cache.findForAuth('alice@R')).toBe(alice);
    expect(await cache.findForAuth('alice@R')).toBe(alice);
    expect(await cache.findForAuth('nobody@R')).toBeUndefined();
    expect(await cache.findForAuth('nobody@R')).toBeUndefined();
    expect(calls).toBe(2);
    // Suspended by another process: the change counter moves, the next request sees it.
    current = { ...alice, status: 'suspended' };
    counter++;
    expect((await cache.findForAuth('alice@R'))?.status).toBe('suspended');
    expect(calls).toBe(3);
  });

  it('reads again what it read while a change was being committed', async () => {
    let counter = 0;
    let calls = 0;
    const cache = new SubscriberCache(
      {
        findForAuth: () => {
          calls++;
          if (calls === 1) counter++; // a change lands during the first read
          return Promise.resolve(alice);
        },
      },
      () => counter,
    );
    await cache.findForAuth('alice@R');
    await cache.findForAuth('alice@R');
    await cache.findForAuth('alice@R');
    expect(calls).toBe(2);
  });

  it('answers from a stale entry while the store is down, within the staleness bound', async () => {
    let counter = 0;
    let t = 1_000_000;
    let down = false;
    const stale: string[] = [];
    const cache = new SubscriberCache(
      {
        findForAuth: (u) =>
          down
            ? Promise.reject(new Error('database unavailable'))
            : Promise.resolve(u === 'alice@R' ? alice : undefined),
      },
      () => counter,
      { maxStaleMs: 60_000, now: () => t, onStale: (u) => stale.push(u) },
    );
    expect(await cache.findForAuth('alice@R')).toBe(alice);
    // The outage: the change channel drops (the counter moves) and reads fail.
    down = true;
    counter++;
    t += 30_000;
    expect(await cache.findForAuth('alice@R')).toBe(alice);
    expect(stale).toEqual(['alice@R']);
    expect(cache.staleAnswers).toBe(1);
    // A name never read before the outage cannot be answered.
    await expect(cache.findForAuth('bob@R')).rejects.toThrow('database unavailable');
    // Past the bound, the stale entry no longer answers.
    t += 31_000;
    await expect(cache.findForAuth('alice@R')).rejects.toThrow('database unavailable');
    // Back: read again, fresh.
    down = false;
    expect(await cache.findForAuth('alice@R')).toBe(alice);
  });

  it('keeps a hit confirmed while nothing changes, so a long-idle cache still covers an outage', async () => {
    let counter = 0;
    let t = 0;
    let down = false;
    const cache = new SubscriberCache(
      {
        findForAuth: () => (down ? Promise.reject(new Error('down')) : Promise.resolve(alice)),
      },
      () => counter,
      { maxStaleMs: 10_000, now: () => t },
    );
    await cache.findForAuth('alice@R');
    t = 100_000; // long after the read, but nothing changed: the hit confirms it
    await cache.findForAuth('alice@R');
    down = true;
    counter++;
    t += 5_000;
    expect(await cache.findForAuth('alice@R')).toBe(alice);
  });

  it('stays within its bound', async () => {
    const cache = new SubscriberCache({ findForAuth: () => Promise.resolve(undefined) }, () => 0, {
      maxEntries: 10,
    });
    for (let i = 0; i < 25; i++) await cache.findForAuth(`u${i}`);
    expect(cache.size).toBeLessThanOrEqual(10);
  });
});
