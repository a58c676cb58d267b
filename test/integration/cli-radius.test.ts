// `ispkit radius decode|encode`, run as a person would, checked against the RFC 2865 §7.1
// example packet (secret xyzzy5461) rather than against our own output.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const RFC2865_7_1 =
  '010000380f403f9473978057bd83d5cb98f4227a01066e656d6f02120dbe708d93d413ce3196e43f782a0aee0406c0a80110050600000003';

function ispkit(
  args: string[],
  input?: string,
): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'radius', ...args], {
    encoding: 'utf8',
    input,
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('ispkit radius decode / encode', () => {
  it('decodes the RFC 2865 §7.1 Access-Request and reveals the password with the secret', () => {
    const r = ispkit(['decode', RFC2865_7_1, '--secret', 'xyzzy5461']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Access-Request Id 0 length 56');
    expect(r.stdout).toContain('User-Name = "nemo"');
    expect(r.stdout).toContain('User-Password = "arctangent"');
    expect(r.stdout).toContain('NAS-IP-Address = 192.168.1.16');
    expect(r.stdout).toContain('NAS-Port = 3');
  });

  it('encodes the same request byte for byte from text, with the RFC authenticator', () => {
    const text =
      'User-Name = "nemo"\nUser-Password := "arctangent"\nNAS-IP-Address = 192.168.1.16\nNAS-Port = 3\n';
    const r = ispkit(
      [
        'encode',
        '--code',
        'Access-Request',
        '--id',
        '0',
        '--secret',
        'xyzzy5461',
        '--authenticator',
        '0f403f9473978057bd83d5cb98f4227a',
      ],
      text,
    );
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(RFC2865_7_1);
  });

  it('checks a reply against its request authenticator, and says when it cannot', () => {
    // RFC 2865 §7.1's Access-Accept.
    const accept = '0200002686fe220e7624ba2a1005f6bf9b55e0b20606000000010f06000000000e06c0a80103';
    const checked = ispkit([
      'decode',
      accept,
      '--secret',
      'xyzzy5461',
      '--request-authenticator',
      '0f403f9473978057bd83d5cb98f4227a',
      '--json',
    ]);
    expect(checked.code).toBe(0);
    const json = JSON.parse(checked.stdout) as {
      code_name: string;
      checks: { authenticator: string };
      attributes: { name: string; value: unknown }[];
    };
    expect(json.code_name).toBe('Access-Accept');
    expect(json.checks.authenticator).toBe('ok');
    expect(json.attributes.map((a) => [a.name, a.value])).toEqual([
      ['Service-Type', 'Login-User'],
      ['Login-Service', 'Telnet'],
      ['Login-IP-Host', '192.168.1.3'],
    ]);
    const unchecked = ispkit(['decode', accept, '--secret', 'xyzzy5461']);
    expect(unchecked.code).toBe(0);
    expect(unchecked.stdout).toContain('not checked');
  });

  it('gives one error line and a non-zero exit for bad hex, a truncated packet, a bad line', () => {
    const badHex = ispkit(['decode', 'zz']);
    expect(badHex.code).toBe(2);
    expect(badHex.stderr.trim().split('\n')).toHaveLength(1);
    const truncated = ispkit(['decode', RFC2865_7_1.slice(0, 60)]);
    expect(truncated.code).toBe(1);
    expect(truncated.stderr).toMatch(/Length field says 56 but only 30 octets arrived/);
    const badLine = ispkit(
      ['encode', '--code', 'Access-Request', '--id', '1', '--secret', 's'],
      'User-Name = "a"\nNo-Such-Attribute = 1\n',
    );
    expect(badLine.code).toBe(1);
    expect(badLine.stderr).toMatch(/line 2: unknown attribute No-Such-Attribute/);
  });
});
