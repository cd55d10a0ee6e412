/** The health state machine with plain times: rise and fall like HAProxy's, no flapping on one bad answer. */
import { describe, expect, it } from 'vitest';
import { HEALTH_HISTORY, HealthState } from '../../../../src/services/lb/health.js';

const ok = (at: number) => ({ at, ok: true, source: 'check' as const, detail: 'L4OK' });
const bad = (at: number) => ({ at, ok: false, source: 'check' as const, detail: 'connection refused' });

describe('HealthState', () => {
  it('starts up and goes down after `fall` failures in a row', () => {
    const h = new HealthState(2, 3);
    expect(h.up).toBe(true);
    expect(h.record(bad(1))).toBeUndefined();
    expect(h.describe()).toBe('UP 1/3');
    expect(h.record(bad(2))).toBeUndefined();
    expect(h.record(bad(3))).toBe('down');
    expect(h.up).toBe(false);
    expect(h.changedAt).toBe(3);
    expect(h.describe()).toBe('DOWN');
  });

  it('a good check in between resets the count: one bad answer does not flap it', () => {
    const h = new HealthState(2, 2);
    h.record(bad(1));
    h.record(ok(2));
    h.record(bad(3));
    expect(h.up).toBe(true);
    expect(h.record(bad(4))).toBe('down');
  });

  it('comes back after `rise` successes in a row', () => {
    const h = new HealthState(3, 1);
    expect(h.record(bad(0))).toBe('down');
    h.record(ok(1));
    h.record(ok(2));
    expect(h.describe()).toBe('DOWN 2/3');
    h.record(bad(3));
    h.record(ok(4));
    h.record(ok(5));
    expect(h.up).toBe(false);
    expect(h.record(ok(6))).toBe('up');
    expect(h.sparkline()).toBe('-++-+++');
  });

  it('keeps the last results only', () => {
    const h = new HealthState();
    for (let i = 0; i < 50; i++) h.record(ok(i));
    expect(h.history).toHaveLength(HEALTH_HISTORY);
    expect(h.history[0]!.at).toBe(50 - HEALTH_HISTORY);
  });
});
