import { describe, expect, it } from 'vitest';
import { secondsUntilReconnect } from './session-timeout.js';

const utc = { enabled: true, at: '00:00', timeZone: 'UTC' };

describe('Session-Timeout until the daily reconnect', () => {
  it('gives the seed value: a request at 10:11:32 UTC got 49708', () => {
    expect(secondsUntilReconnect(Date.parse('2025-04-08T10:11:32Z'), utc)).toBe(49708);
  });
  it('at several times of day', () => {
    expect(secondsUntilReconnect(Date.parse('2025-04-08T00:00:00Z'), utc)).toBe(86400);
    expect(secondsUntilReconnect(Date.parse('2025-04-08T23:59:59Z'), utc)).toBe(1);
    expect(secondsUntilReconnect(Date.parse('2025-04-08T23:59:59.500Z'), utc)).toBe(1);
    expect(secondsUntilReconnect(Date.parse('2025-04-08T12:00:00Z'), utc)).toBe(43200);
  });
  it('at another time of day and in a time zone with summer time', () => {
    const brussels = { enabled: true, at: '04:30', timeZone: 'Europe/Brussels' };
    // 2025-04-08 is CEST (UTC+2): 04:30 local is 02:30 UTC.
    expect(secondsUntilReconnect(Date.parse('2025-04-08T01:30:00Z'), brussels)).toBe(3600);
    expect(secondsUntilReconnect(Date.parse('2025-04-08T02:30:00Z'), brussels)).toBe(86400);
    // In winter (CET, UTC+1) 04:30 local is 03:30 UTC.
    expect(secondsUntilReconnect(Date.parse('2025-01-15T03:00:00Z'), brussels)).toBe(1800);
    // The night summer time starts (2025-03-30, 02:00 → 03:00) is 23 hours long.
    const midnight = { enabled: true, at: '00:00', timeZone: 'Europe/Brussels' };
    expect(secondsUntilReconnect(Date.parse('2025-03-29T23:00:00Z'), midnight)).toBe(23 * 3600);
  });
});
