// The bench's load generator (bench/load/radload.c) against our RadiusServer: it must verify
// every reply, and under open load split each request's latency into the generator's own lag
// (scheduled → sent) and the reply time from the actual send, consistently with the total.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { AuthSubscriber, NasClient } from '../../src/aaa/ports.js';
import { RadiusServer } from '../../src/aaa/server.js';
import { bundledDictionary } from '../../src/radius/index.js';
import type { RadloadResult } from '../../bench/lib/radload.js';
import { radloadCcArgs } from '../../bench/lib/radload.js';
import { LOOPBACK_SERVER } from '../helpers/radius-server.js';

const SECRET = 'radload-s3cret';

const missing = [
  ...(spawnSync('sh', ['-c', 'command -v cc']).status === 0 ? [] : ['cc']),
  ...(existsSync('/usr/include/openssl/md5.h') ? [] : ['libssl-dev']),
];
const why = `${missing.join(', ')} not installed: run scripts/install-interop-deps.sh`;
if (missing.length > 0) {
  if (process.env.CI === 'true') {
    describe('radload → our server', () => {
      it('needs a C compiler and the OpenSSL headers under CI=true', () => {
        throw new Error(why);
      });
    });
  } else console.warn(`skipping radload tests: ${why}`);
}

describe.skipIf(missing.length > 0)('radload → our RadiusServer', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ispkit-radload-'));
  const binary = join(dir, 'radload');
  const nas: NasClient = {
    name: 'bench',
    secret: Buffer.from(SECRET),
    requireMessageAuthenticator: false,
  };
  // radload's member u is --user-fmt / --pass-fmt with u; one member: u = 0.
  const member: AuthSubscriber = {
    username: 'm000000',
    status: 'active',
    password: 'Pw-000000',
    ipv4: null,
    ipv6Prefix: null,
    delegatedPrefix: null,
    mtu: null,
    portLimit: null,
    interim: null,
  };
  let server: RadiusServer;
  /** The same member, answered 20 ms late: a slow server, whose full window holds requests. */
  let slow: RadiusServer;

  function start(delayMs: number): Promise<RadiusServer> {
    const s = new RadiusServer({
      dictionary: bundledDictionary(),
      nas: { lookup: (a) => Promise.resolve(a === '127.0.0.1' ? nas : undefined) },
      subscribers: {
        findForAuth: (u) =>
          new Promise((resolve) =>
            setTimeout(() => resolve(u === member.username ? member : undefined), delayMs),
          ),
      },
      accounting: { record: () => Promise.resolve(true) },
      ...LOOPBACK_SERVER,
    });
    return s.start().then(() => s);
  }

  beforeAll(async () => {
    const cc = spawnSync('cc', radloadCcArgs(binary), { encoding: 'utf8' });
    if (cc.status !== 0) throw new Error(`radload did not build:\n${cc.stderr}`);
    server = await start(0);
    slow = await start(20);
  });

  afterAll(async () => {
    await server?.stop();
    await slow?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Runs radload (asynchronously: the server answers on this process's event loop). */
  function radload(to: RadiusServer, ...extra: string[]): Promise<RadloadResult> {
    const port = to.addresses().find((a) => a.kind === 'auth')?.port ?? 0;
    const args = ['--mode', 'pap', '--port', String(port), '--secret', SECRET, '--users', '1'];
    args.push('--user-fmt', 'm%06u', '--pass-fmt', 'Pw-%06u', '--duration', '1', ...extra);
    return new Promise((resolve, reject) => {
      const child = spawn(binary, args);
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        if (code !== 0) reject(new Error(`radload failed (${code}):\n${err}`));
        else resolve(JSON.parse(out) as RadloadResult);
      });
    });
  }

  it('under open load, splits the latency into the generator lag and the reply time', async () => {
    const r = await radload(server, '--rate', '400');
    expect(r.rate).toBe(400);
    expect(r.sent).toBeGreaterThanOrEqual(350);
    expect(r.ok).toBe(r.sent);
    expect(r.bad + r.timeouts).toBe(0);
    // Each request's reply time from the send is at most its latency from the schedule, and
    // both histograms share their buckets: the quantiles keep the order.
    expect(r.reply_p50_ms).toBeGreaterThan(0);
    expect(r.reply_p50_ms).toBeLessThanOrEqual(r.p50_ms);
    expect(r.reply_p99_ms).toBeLessThanOrEqual(r.p99_ms);
    // Sends wait for the generator's next tick (and the kernel's timer slack): never exactly on
    // time at this rate.
    expect(r.lag_p50_ms).toBeGreaterThan(0);
    expect(r.lag_p99_ms).toBeLessThanOrEqual(r.p99_ms);
  });

  it('under closed load (no schedule), reports no lag and no reply split', async () => {
    const r = await radload(server, '--window', '8');
    expect(r.rate).toBe(0);
    expect(r.ok).toBe(r.sent);
    expect(r.ok).toBeGreaterThan(100);
    expect([r.lag_p50_ms, r.lag_p99_ms, r.reply_p50_ms, r.reply_p99_ms]).toEqual([0, 0, 0, 0]);
    expect(r.window_waits).toBe(0);
  });

  it("counts requests a full window held back as the server's, not as the generator's lag", async () => {
    // 2 outstanding at most, 20 ms each: ~100 answers a second for 400 offered.
    const r = await radload(slow, '--rate', '400', '--window', '2');
    expect(r.ok).toBe(r.sent);
    expect(r.sent).toBeLessThan(200);
    expect(r.p50_ms).toBeGreaterThan(100); // from the schedule: the backlog grows all along
    expect(r.window_waits).toBeGreaterThan(r.sent / 2);
    expect(r.behind).toBeGreaterThan(r.sent / 2);
    // What the window did not hold back left about on time.
    expect(r.lag_p99_ms).toBeLessThan(5);
    expect(r.reply_p50_ms).toBeGreaterThanOrEqual(20);
  });
});
