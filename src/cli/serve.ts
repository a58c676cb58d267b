import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { openApp } from '../app.js';
import { createLogger } from '../logging.js';
import { serve } from '../serve.js';
import type { GlobalOptions } from './app-context.js';
import { CliError } from './output.js';

interface ServeFlags {
  listen?: string;
  authPort?: string;
  acctPort?: string;
  httpPort?: string;
}

function port(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) > 65535)
    throw new CliError('PORT_INVALID', `${name} must be 0–65535, got '${value}'`, 2);
  return Number(value);
}

/** `ispkit serve`: the RADIUS and HTTP server, until SIGTERM or SIGINT. */
export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('run the RADIUS (authentication, accounting) and HTTP server')
    .option(
      '--listen <addresses>',
      'comma-separated addresses to bind (default from the config: 0.0.0.0,::)',
    )
    .option('--auth-port <n>', 'RADIUS authentication port (default 1812)')
    .option('--acct-port <n>', 'RADIUS accounting port (default 1813)')
    .option('--http-port <n>', 'HTTP port (default 8080)')
    .action(async (flags: ServeFlags, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      const dataDir = resolve(g.data ?? process.env.ISPKIT_DATA ?? './data');
      const firstStart = !existsSync(g.config ? resolve(g.config) : join(dataDir, 'ispkit.yaml'));
      const app = await openApp({ dataDir, configFile: g.config, create: true });
      const logger = createLogger(app.config.log.level);
      let running;
      try {
        running = await serve(app, {
          listen: flags.listen
            ?.split(',')
            .map((s) => s.trim())
            .filter(Boolean),
          authPort: port(flags.authPort, '--auth-port'),
          acctPort: port(flags.acctPort, '--acct-port'),
          httpPort: port(flags.httpPort, '--http-port'),
          logger,
        });
      } catch (e) {
        await app.close();
        throw e;
      }
      const [nasCount, subscriberCount] = await Promise.all([
        app.nas.list().then((l) => l.length),
        app.subscribers.list().then((l) => l.length),
      ]);
      const where = running.addresses
        .map((a) => `${a.kind} ${a.address.includes(':') ? `[${a.address}]` : a.address}:${a.port}`)
        .join(', ');
      const lines = [
        `ispkit ${firstStart ? 'created its data in' : 'serving from'} ${app.dataDir} (${app.store.description})`,
        `RADIUS: ${where}; HTTP: http://localhost:${running.httpPort}/healthz`,
      ];
      if (nasCount === 0 || subscriberCount === 0) {
        const cli = `npx ispkit --data ${app.dataDir}`;
        lines.push('', 'Next steps, in another terminal:');
        if (nasCount === 0)
          lines.push(`  ${cli} nas add my-nas --address 127.0.0.1 --secret 'a-long-shared-secret'`);
        if (subscriberCount === 0) {
          lines.push(`  ${cli} subscriber add alice@EXAMPLE --password 'secret' --ipv4 192.0.2.10`);
        }
        lines.push(
          `  ${cli} radtest alice@EXAMPLE secret 127.0.0.1:${running.addresses.find((a) => a.kind === 'auth')?.port ?? 1812} 'a-long-shared-secret' --method pap`,
        );
      }
      process.stderr.write(`${lines.join('\n')}\n`);
      let stopping = false;
      const stop = (signal: string): void => {
        if (stopping) return;
        stopping = true;
        logger.info({ signal }, 'stopping: finishing requests in progress');
        running
          .stop()
          .then(() => process.exit(0))
          .catch((err: unknown) => {
            logger.error({ err }, 'stopped with an error');
            process.exit(1);
          });
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
    });
}
