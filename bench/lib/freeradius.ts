/**
 * Debian's FreeRADIUS 3.2 for the bench: a copy of /etc/freeradius/3.0 in a temp dir, listening
 * on 127.0.0.1 high ports, with the bench's members in the `files` module (accounting to the
 * `detail` file), or in rlm_sql on PostgreSQL (accounting to radacct). Started in the
 * foreground without debug output (`-f`), as it runs in production.
 */
import type { ChildProcess } from 'node:child_process';
import { cpSync, existsSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Member } from './members.js';
import { launch } from './procs.js';
import { dropBlocks, STOCK_RADDB } from '../../test/helpers/raddb.js';

/** Where the members live: the users file, or rlm_sql on PostgreSQL in `schema`. */
export type FreeradiusStore = { kind: 'files' } | { kind: 'sql'; conninfo: string };

/** Comments out `line` (a module call such as `unix`) inside the top-level `section { … }`. */
function dropCall(text: string, section: string, call: string): string {
  const lines = text.split('\n');
  let inside = false;
  let depth = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (!inside && new RegExp(`^${section}\\s*\\{`).test(line)) {
      inside = true;
      depth = 0;
    }
    if (!inside) continue;
    const code = line.replace(/#.*/, '');
    if (depth === 1 && code.trim() === call) lines[i] = `#${line} # off for the bench`;
    depth += (code.match(/\{/g) ?? []).length - (code.match(/\}/g) ?? []).length;
    if (depth === 0 && code.includes('}')) inside = false;
  }
  return lines.join('\n');
}

/** The reply attributes, as FreeRADIUS writes them, that ispkit sends for the same member. */
export function replyPairs(m: Member): [string, string][] {
  return [
    ['Framed-IP-Address', m.ipv4],
    ['Framed-IPv6-Prefix', m.ipv6Prefix],
    ['Delegated-IPv6-Prefix', m.delegatedPrefix],
    ['Service-Type', 'Framed-User'],
    ['Framed-Protocol', 'PPP'],
    ['Framed-IP-Netmask', '255.255.255.255'],
    ['Acct-Interim-Interval', '60'],
    ['Session-Timeout', '3600'],
  ];
}

export interface FreeradiusConfig {
  raddb: string;
  logDir: string;
}

/** Writes a raddb under `dir`; returns its path. Members go in the users file for `files`. */
export function writeFreeradiusConfig(opts: {
  dir: string;
  authPort: number;
  acctPort: number;
  secret: string;
  members: readonly Member[];
  store: FreeradiusStore;
}): FreeradiusConfig {
  const { dir, authPort, acctPort, secret, store } = opts;
  const raddb = join(dir, 'raddb');
  rmSync(raddb, { recursive: true, force: true });
  cpSync(STOCK_RADDB, raddb, { recursive: true, verbatimSymlinks: true });
  const edit = (file: string, f: (s: string) => string): void => {
    const path = join(raddb, file);
    writeFileSync(path, f(readFileSync(path, 'utf8')));
  };
  edit('radiusd.conf', (s) =>
    s
      .replace(/^logdir = .*$/m, `logdir = ${dir}/log`)
      .replace(/^run_dir = .*$/m, `run_dir = ${dir}/run`)
      .replace(/^(\s*)(user|group) = freerad$/gm, '$1#$2 = freerad')
      .replace(/^(\s*)reject_delay = \d+$/m, '$1reject_delay = 0'),
  );
  // As the interop test: Message-Authenticator in every Access-Accept/Reject (BlastRADIUS; 3.2.1
  // adds it only when the reply list holds one), as ispkit always does.
  const addMa = `update reply {
		&Message-Authenticator := 0x00
	}`;
  edit('sites-available/default', (s) => {
    let t = dropBlocks(s, 'listen')
      .replace(/^post-auth \{$/m, `post-auth {\n\t${addMa}`)
      .replace(/^\tPost-Auth-Type REJECT \{$/m, `\tPost-Auth-Type REJECT {\n\t${addMa}`)
      .replace(
        /^server default \{$/m,
        `server default {
listen {
	type = auth
	ipaddr = 127.0.0.1
	port = ${authPort}
}
listen {
	type = acct
	ipaddr = 127.0.0.1
	port = ${acctPort}
}`,
      );
    // Accounting does nothing but the store: the detail file (files) or radacct (sql). The stock
    // `unix` (radwtmp) and `exec` calls are turned off, which only makes FreeRADIUS faster.
    t = dropCall(t, 'accounting', 'unix');
    t = dropCall(t, 'accounting', 'exec');
    if (store.kind === 'sql') {
      t = dropCall(t, 'accounting', 'detail');
      // No radpostauth INSERT per authentication: ispkit writes nothing per authentication.
      t = t.replace(/^(\t+)-sql$/gm, (line, tabs: string) =>
        tabs === '\t' ? line : `${tabs}# -sql # off for the bench`,
      );
      t = dropCall(t, 'post-auth', '-sql');
    }
    return t;
  });
  unlinkSync(join(raddb, 'sites-enabled/inner-tunnel')); // it listens on 127.0.0.1:18120
  writeFileSync(
    join(raddb, 'clients.conf'),
    `client bench {
	ipaddr = 127.0.0.1
	secret = ${secret}
	require_message_authenticator = yes
	nas_type = other
}
`,
  );
  if (store.kind === 'files') {
    const users = opts.members
      .map(
        (m) =>
          `${m.username} Cleartext-Password := "${m.password}"\n` +
          replyPairs(m)
            .map(([k, v]) => `\t${k} = ${v}`)
            .join(',\n'),
      )
      .join('\n');
    edit('mods-config/files/authorize', (s) => `${users}\n\n${s}`);
  } else {
    const sql = readFileSync(join(raddb, 'mods-available/sql'), 'utf8')
      .replace(/^(\s*)dialect = "sqlite"$/m, '$1dialect = "postgresql"')
      .replace(/^(\s*)driver = "rlm_sql_null"$/m, '$1driver = "rlm_sql_${dialect}"')
      .replace(/^(\s*)radius_db = "radius"$/m, `$1radius_db = "${store.conninfo}"`);
    const link = join(raddb, 'mods-enabled/sql');
    if (existsSync(link)) unlinkSync(link);
    writeFileSync(link, sql);
  }
  return { raddb, logDir: join(dir, 'log') };
}

export interface RunningFreeradius {
  child: ChildProcess;
  pid: number;
  output: () => string;
}

/** Starts `freeradius -f` (foreground, no debug), resolving once it is ready (20 s at most). */
export function startFreeradius(raddb: string): Promise<RunningFreeradius> {
  const child = launch('freeradius', ['-f', '-l', 'stdout', '-d', raddb], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  return new Promise((resolve, reject) => {
    let done = false;
    const fail = (msg: string): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${msg}\n--- freeradius output (tail) ---\n${out.slice(-4000)}`));
    };
    const timer = setTimeout(() => fail('FreeRADIUS was not ready within 20 s'), 20_000);
    const onData = (d: Buffer): void => {
      if (out.length < 1_000_000) out += d.toString();
      if (!done && out.includes('Ready to process requests') && child.pid !== undefined) {
        done = true;
        clearTimeout(timer);
        resolve({ child, pid: child.pid, output: () => out });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('error', (e) => fail(`cannot run freeradius: ${e.message}`));
    child.on('exit', (code) => fail(`freeradius exited with ${code}`));
  });
}
