/** Reads a V8 .cpuprofile (`node --cpu-prof`) and sums self time per function. */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  fn: string;
  where: string;
  ms: number;
  pct: number;
}

/** The `top` functions by self time, with their share of all samples (idle included). */
export function topSelfTime(file: string, root: string, top = 10): SelfTime[] {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  for (const n of p.nodes) byId.set(n.id, n);
  const selfUs = new Map<string, { fn: string; where: string; us: number }>();
  let total = 0;
  p.samples.forEach((id, i) => {
    // A sample's delta is the time until the next one: attribute it to the next sample's node.
    const dt = p.timeDeltas[i + 1] ?? 0;
    total += dt;
    const n = byId.get(id);
    if (!n) return;
    const { functionName, url, lineNumber } = n.callFrame;
    const fn = functionName || '(anonymous)';
    const file = url.startsWith('file://') ? relative(root, new URL(url).pathname) : url;
    const where = file ? `${file}:${lineNumber + 1}` : '';
    const key = `${fn}|${where}`;
    const e = selfUs.get(key) ?? { fn, where, us: 0 };
    e.us += dt;
    selfUs.set(key, e);
  });
  return [...selfUs.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, top)
    .map((e) => ({ fn: e.fn, where: e.where, ms: e.us / 1000, pct: (100 * e.us) / total }));
}
