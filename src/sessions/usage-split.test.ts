import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { splitByDay } from './usage-split.js';

const t = (iso: string): number => Date.parse(iso);

describe('splitting a delta over UTC days', () => {
  it('keeps a delta within one day whole', () => {
    expect(
      splitByDay(t('2025-04-08T10:00:00Z'), t('2025-04-08T10:01:00Z'), 1000, 2000, 60),
    ).toEqual([{ day: '2025-04-08', bytesIn: 1000, bytesOut: 2000, seconds: 60 }]);
  });
  it('a delta ending exactly at midnight belongs to the day before', () => {
    expect(splitByDay(t('2025-04-08T23:59:00Z'), t('2025-04-09T00:00:00Z'), 60, 60, 60)).toEqual([
      { day: '2025-04-08', bytesIn: 60, bytesOut: 60, seconds: 60 },
    ]);
  });
  it('splits in proportion to time across midnight', () => {
    // 23:59:30 → 00:00:30: half before midnight, half after.
    expect(
      splitByDay(t('2025-04-08T23:59:30Z'), t('2025-04-09T00:00:30Z'), 1000, 3001, 60),
    ).toEqual([
      { day: '2025-04-08', bytesIn: 500, bytesOut: 1500, seconds: 30 },
      { day: '2025-04-09', bytesIn: 500, bytesOut: 1501, seconds: 30 },
    ]);
  });
  it('never loses or invents a byte, over any span (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1_700_000_000_000, max: 1_800_000_000_000 }),
        fc.integer({ min: 0, max: 5 * 86_400_000 }),
        fc.nat(),
        fc.nat(),
        fc.nat({ max: 500_000 }),
        (from, span, a, b, s) => {
          const parts = splitByDay(from, from + span, a, b, s);
          expect(parts.reduce((x, p) => x + p.bytesIn, 0)).toBe(a);
          expect(parts.reduce((x, p) => x + p.bytesOut, 0)).toBe(b);
          expect(parts.reduce((x, p) => x + p.seconds, 0)).toBe(s);
          for (const p of parts) expect(p.bytesIn).toBeGreaterThanOrEqual(0);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
