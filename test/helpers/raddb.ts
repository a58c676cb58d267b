// Editing a copy of Debian's FreeRADIUS configuration, for the interop tests and the bench.

/** Debian's stock FreeRADIUS 3 configuration, copied by each test or bench run. */
export const STOCK_RADDB = '/etc/freeradius/3.0';

/** Removes the top-level `name { … }` blocks (brace depth counted outside # comments). */
export function dropBlocks(text: string, name: string): string {
  const out: string[] = [];
  let depth = 0;
  for (const line of text.split('\n')) {
    if (depth === 0 && !new RegExp(`^${name}\\s*\\{`).test(line)) {
      out.push(line);
      continue;
    }
    const code = line.replace(/#.*/, '');
    depth += (code.match(/\{/g) ?? []).length - (code.match(/\}/g) ?? []).length;
  }
  return out.join('\n');
}
