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

  it('does not keep what it read while a change was being committed', async () => {
    let counter = 0;
    const cache = new SubscriberCache(
      {
        findForAuth: () => {
          counter++; // a change lands during the read
          return Promise.resolve(alice);
        },
      },
      () => counter,
    );
    await cache.findForAuth('alice@R');
    expect(cache.size).toBe(0);
  });

  it('stays within its bound', async () => {
    const cache = new SubscriberCache(
      { findForAuth: () => Promise.resolve(undefined) },
      () => 0,
      10,
    );
    for (let i = 0; i < 25; i++) await cache.findForAuth(`u${i}`);
    expect(cache.size).toBeLessThanOrEqual(10);
  });
});
