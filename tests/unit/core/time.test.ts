/**
 * The real-time driver runs the stack's timers after the input that has already arrived (core/time.ts
 * RealTimeDriver): a TCP timer that came due while the process was busy must see the ACKs waiting in the
 * device's queue, not act on the state from before them.
 */
import { createSocket } from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { RealTimeDriver, Timers, systemClock } from '../../../src/core/time.js';

describe('RealTimeDriver', () => {
  it('a timer that came due while the loop was busy runs after the I/O that was ready by then', async () => {
    const timers = new Timers(systemClock);
    const driver = new RealTimeDriver(timers);
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const order: string[] = [];
    const done = new Promise<void>((resolve) => {
      socket.on('message', () => order.push('input'));
      timers.after(1, () => {
        order.push('timer');
        resolve();
      });
    });
    driver.schedule();
    // A datagram to ourselves, then 20 ms of work: when the loop comes back, the timer is due and the input waits.
    socket.send(Buffer.from('x'), socket.address().port, '127.0.0.1');
    const until = performance.now() + 20;
    while (performance.now() < until);
    await done;
    driver.stop();
    socket.close();
    expect(order).toEqual(['input', 'timer']);
  });
});
