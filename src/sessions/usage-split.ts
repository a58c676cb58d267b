/** One UTC day's share of a usage delta. */
export interface DayShare {
  /** YYYY-MM-DD (UTC). */
  day: string;
  bytesIn: number;
  bytesOut: number;
  seconds: number;
}

const DAY = 86_400_000;

// The last day formatted (accounting asks for the same few days again and again).
let lastDay = Number.NaN;
let lastDayText = '';

export function utcDay(t: number): string {
  const day = Math.floor(t / DAY);
  if (day !== lastDay) {
    lastDayText = new Date(day * DAY).toISOString().slice(0, 10);
    lastDay = day;
  }
  return lastDayText;
}

/**
 * Splits what was measured between `from` and `to` (ms) over the UTC days it spans, in
 * proportion to the time in each day. Integer shares that add up exactly to the totals: each
 * day but the last gets the floor of its share, the last day the rest.
 */
export function splitByDay(
  from: number,
  to: number,
  bytesIn: number,
  bytesOut: number,
  seconds: number,
): DayShare[] {
  if (to <= from || utcDay(from) === utcDay(to - 1)) {
    return [{ day: utcDay(Math.max(from, to - 1)), bytesIn, bytesOut, seconds }];
  }
  const total = to - from;
  const out: DayShare[] = [];
  let given = { bytesIn: 0, bytesOut: 0, seconds: 0 };
  let start = from;
  while (start < to) {
    const end = Math.min(to, (Math.floor(start / DAY) + 1) * DAY);
    const last = end >= to;
    const part = (n: number, already: number): number =>
      last ? n - already : Math.floor((n * (end - start)) / total);
    const share: DayShare = {
      day: utcDay(start),
      bytesIn: part(bytesIn, given.bytesIn),
      bytesOut: part(bytesOut, given.bytesOut),
      seconds: part(seconds, given.seconds),
    };
    given = {
      bytesIn: given.bytesIn + share.bytesIn,
      bytesOut: given.bytesOut + share.bytesOut,
      seconds: given.seconds + share.seconds,
    };
    out.push(share);
    start = end;
  }
  return out;
}
