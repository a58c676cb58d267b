import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'ispkit-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function ispkit(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, ISPKIT_DATA: '' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('the ispkit command', () => {
  it('lists every command group in --help', () => {
    const r = ispkit('--help');
    expect(r.code).toBe(0);
    for (const g of [
      'serve',
      'radius',
      'nas',
      'subscriber',
      'session',
      'usage',
      'radtest',
      'init',
      'migrate',
    ]) {
      expect(r.stdout).toMatch(new RegExp(`^  ${g}\\b`, 'm'));
    }
  });

  it('init prepares a data dir; migrate then has nothing left to apply', () => {
    const data = join(dir, 'd');
    expect(ispkit('--data', data, 'migrate').code).toBe(1); // no data dir yet: a typo, not a wish
    const init = ispkit('--data', data, 'init', '--json');
    expect(init.code).toBe(0);
    expect(JSON.parse(init.stdout)).toMatchObject({ data_dir: data });
    expect(statSync(join(data, 'secret.key')).mode & 0o777).toBe(0o600);
    const m = ispkit('--data', data, 'migrate', '--json');
    expect(m.code).toBe(0);
    expect(JSON.parse(m.stdout)).toMatchObject({ applied: [] });
  });

  it('gives one line and exit 2 for a usage error', () => {
    const r = ispkit('nosuchcommand');
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n').length).toBeLessThanOrEqual(2);
  });
});
