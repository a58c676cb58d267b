import type { Command } from 'commander';
import type { App } from '../app.js';
import { openApp } from '../app.js';

/** The root program's options, which every command group reads. */
export interface GlobalOptions {
  data?: string;
  config?: string;
}

/**
 * Opens the app with the root's --data and --config, runs one command, and closes the store
 * whatever happens (an open PostgreSQL pool would keep the process alive).
 */
export async function withApp<T>(
  command: Command,
  run: (app: App) => Promise<T>,
  options: { create?: boolean } = {},
): Promise<T> {
  const g = command.optsWithGlobals<GlobalOptions>();
  const app = await openApp({ dataDir: g.data, configFile: g.config, create: options.create });
  try {
    return await run(app);
  } finally {
    await app.close();
  }
}

/** Left-aligned columns for a terminal; `-` stands for none. */
export function table(header: string[], rows: (string | number | null)[][]): string {
  const cells = [header, ...rows.map((r) => r.map((c) => (c === null ? '-' : String(c))))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
    .concat('\n');
}

/** `created_at: …` lines with the labels aligned. */
export function fields(pairs: [string, string | number | null][]): string {
  const width = Math.max(...pairs.map(([k]) => k.length)) + 1;
  return pairs.map(([k, v]) => `${`${k}:`.padEnd(width)}  ${v === null ? '-' : v}\n`).join('');
}
