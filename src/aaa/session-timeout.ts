/**
 * Sessions end at a fixed time of day (00:00 UTC by default), so that a day's accounting is the
 * sum of that day's sessions: Session-Timeout is the number of seconds left until then.
 */
export interface ReconnectPolicy {
  enabled: boolean;
  /** HH:MM, local time in `timeZone`. */
  at: string;
  timeZone: string;
}

/** Seconds from `now` until the next `at` in `timeZone` (1 … 86,400 + a DST hour). */
export function secondsUntilReconnect(now: number, policy: ReconnectPolicy): number {
  const [h, m] = policy.at.split(':').map(Number) as [number, number];
  const local = localParts(now, policy.timeZone);
  // Today's reconnect time in local terms, converted to UTC; tomorrow's if it has passed.
  let target = localToUtc(local.year, local.month, local.day, h, m, policy.timeZone);
  if (target <= now)
    target = localToUtc(local.year, local.month, local.day + 1, h, m, policy.timeZone);
  return Math.max(1, Math.ceil((target - now) / 1000));
}

/** Throws RangeError for a time zone Intl does not know; config validation calls it. */
export function checkTimeZone(timeZone: string): void {
  new Intl.DateTimeFormat('en-GB', { timeZone });
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-GB', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

interface Parts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

function localParts(t: number, timeZone: string): Parts {
  if (timeZone === 'UTC') {
    const d = new Date(t);
    return {
      year: d.getUTCFullYear(),
      month: d.getUTCMonth() + 1,
      day: d.getUTCDate(),
      hour: d.getUTCHours(),
      minute: d.getUTCMinutes(),
      second: d.getUTCSeconds(),
    };
  }
  const out: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(t))
    if (p.type !== 'literal') out[p.type] = Number(p.value);
  return {
    year: out.year ?? 0,
    month: out.month ?? 1,
    day: out.day ?? 1,
    hour: out.hour ?? 0,
    minute: out.minute ?? 0,
    second: out.second ?? 0,
  };
}

/** The UTC instant of a local wall-clock time (Date.UTC normalises day overflow). */
function localToUtc(
  year: number,
  month: number,
  day: number,
  h: number,
  m: number,
  timeZone: string,
): number {
  const wall = Date.UTC(year, month - 1, day, h, m, 0);
  if (timeZone === 'UTC') return wall;
  // Guess with the offset at the wall time, then correct once with the offset at the guess.
  let guess = wall - offset(wall, timeZone);
  guess = wall - offset(guess, timeZone);
  return guess;
}

function offset(t: number, timeZone: string): number {
  const p = localParts(t, timeZone);
  return (
    Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - Math.floor(t / 1000) * 1000
  );
}
