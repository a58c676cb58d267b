import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigSchema } from '../config/config.js';
import { netboxSettings, requireNetboxSettings } from './settings.js';

const dir = mkdtempSync(join(tmpdir(), 'ispkit-nb-settings-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const config = (netbox?: Record<string, unknown>) => ConfigSchema.parse(netbox ? { netbox } : {});

describe('the netbox: config block', () => {
  it('is optional; the commands say how to add it', () => {
    expect(netboxSettings(config(), dir, {})).toBeUndefined();
    expect(() => requireNetboxSettings(config(), dir, {})).toThrow(/no netbox: block/);
  });

  it('takes the token from ISPKIT_NETBOX_TOKEN, then token_file, then token', () => {
    writeFileSync(join(dir, 'netbox.token'), 'from-file\n', { mode: 0o600 });
    const c = config({
      url: 'https://netbox.example.net',
      token_file: 'netbox.token',
      token: 'yaml',
    });
    expect(netboxSettings(c, dir, { ISPKIT_NETBOX_TOKEN: 'from-env' })?.token).toBe('from-env');
    expect(netboxSettings(c, dir, {})?.token).toBe('from-file');
    const plain = config({ url: 'https://netbox.example.net', token: 'yaml' });
    expect(netboxSettings(plain, dir, {})?.token).toBe('yaml');
    expect(() => netboxSettings(config({ url: 'https://netbox.example.net' }), dir, {})).toThrow(
      expect.objectContaining({ code: 'NETBOX_TOKEN_MISSING' }),
    );
    const missing = config({ url: 'https://netbox.example.net', token_file: 'nope' });
    expect(() => netboxSettings(missing, dir, {})).toThrow(/nope cannot be read \(ENOENT\)/);
  });

  it('maps role slugs named after a purpose, plus the configured ones; checks templates', () => {
    const s = netboxSettings(
      config({ url: 'https://nb.example.net', token: 't', roles: { cgnat: 'cgnat-ipv4' } }),
      dir,
      {},
    );
    expect(s?.roles).toMatchObject({
      ipv4: 'ipv4',
      'framed-ipv6': 'framed-ipv6',
      cgnat: 'cgnat-ipv4',
    });
    expect(s).toMatchObject({ poolTag: 'ispkit-pool', ownerTag: 'ispkit', timeoutMs: 10_000 });
    expect(() =>
      netboxSettings(
        config({ url: 'https://nb.example.net', token: 't', dns_name: '{nope}' }),
        dir,
        {},
      ),
    ).toThrow(/unknown placeholder \{nope\}/);
    expect(() => config({ url: 'ftp://nb.example.net' })).toThrow();
    expect(() => config({ url: 'https://nb.example.net', roles: { x: 'bogus' } })).toThrow();
  });
});
