/**
 * HostEcho (src/services/uplink/host-echo.ts) on a manual clock with a fake
 * raw socket: what goes out, which replies come back in, the cap and the
 * timeout.
 */
import { describe, expect, it } from 'vitest';
import { createTestContext } from '../../../../src/core/context.js';
import { verifyChecksum } from '../../../../src/core/checksum.js';
import { parseIpv4 } from '../../../../src/l3/ipv4/address.js';
import { HostEcho, type InsideEchoReply, type RawIcmpSocket } from '../../../../src/services/uplink/host-echo.js';

const ip = (t: string): number => parseIpv4(t)!;
const CLIENT = ip('10.0.2.15');
const DEST = ip('192.0.2.9');

class FakeRawSocket implements RawIcmpSocket {
  readonly sent: { bytes: Buffer; address: string }[] = [];
  onMessage: (packet: Buffer, source: string) => void = () => {};
  closed = false;
  on(event: 'message' | 'error', listener: never): this {
    if (event === 'message') this.onMessage = listener;
    return this;
  }
  send(buffer: Buffer, offset: number, length: number, address: string, callback: (error: Error | null, bytes: number) => void): this {
    this.sent.push({ bytes: Buffer.from(buffer.subarray(offset, offset + length)), address });
    callback(null, length);
    return this;
  }
  close(): this {
    this.closed = true;
    return this;
  }
  /** The host's answer to sent echo `i`: an IPv4 header (20 bytes) and the echo turned into a reply. */
  replyTo(i: number, from = this.sent[i]!.address, mutate?: (icmp: Buffer) => void): void {
    const icmp = Buffer.from(this.sent[i]!.bytes);
    icmp[0] = 0; // Echo Reply
    icmp.writeUInt16BE(0, 2);
    mutate?.(icmp);
    if (icmp.readUInt16BE(2) === 0) icmp.writeUInt16BE(checksum(icmp), 2);
    this.onMessage(Buffer.concat([Buffer.from([0x45, ...new Array<number>(19).fill(0)]), icmp]), from);
  }
}

function checksum(b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < b.length; i += 2) sum += (b[i]! << 8) | (b[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function setup(options: { maxOutstanding?: number; timeoutMs?: number } = {}) {
  const ctx = createTestContext(7);
  const socket = new FakeRawSocket();
  const delivered: InsideEchoReply[] = [];
  const echo = new HostEcho(ctx, (r) => delivered.push(r), { ...options, openSocket: () => socket });
  return { ctx, socket, delivered, echo };
}

describe('HostEcho', () => {
  it('sends with its own identifier and sequence, and translates the reply back to the client\'s', () => {
    const { ctx, socket, delivered, echo } = setup();
    echo.send(CLIENT, DEST, '192.0.2.9', 0x4242, 7, Uint8Array.of(1, 2, 3, 4, 5));
    expect(socket.sent).toHaveLength(1);
    const out = socket.sent[0]!.bytes;
    expect(out[0]).toBe(8); // Echo Request
    expect(out.readUInt16BE(4)).toBe(echo.identifier);
    expect(out.readUInt16BE(6)).toBe(0);
    expect([...out.subarray(8)]).toEqual([1, 2, 3, 4, 5]);
    expect(verifyChecksum(out, 0, out.length)).toBe(true);
    socket.replyTo(0);
    expect(delivered).toHaveLength(1);
    const r = delivered[0]!;
    expect([r.source, r.destination]).toEqual([DEST, CLIENT]);
    expect(r.icmp[0]).toBe(0);
    expect([(r.icmp[4]! << 8) | r.icmp[5]!, (r.icmp[6]! << 8) | r.icmp[7]!]).toEqual([0x4242, 7]);
    expect([...r.icmp.subarray(8)]).toEqual([1, 2, 3, 4, 5]);
    expect(verifyChecksum(r.icmp, 0, r.icmp.length)).toBe(true);
    expect(ctx.stats.get('uplinkIcmpEchoOut')).toBe(1);
    expect(ctx.stats.get('uplinkIcmpEchoIn')).toBe(1);
    expect(echo.pending).toBe(0);
  });

  it('ignores replies that are not its own: another identifier, another responder, a late or damaged one', () => {
    const { ctx, socket, delivered, echo } = setup();
    echo.send(CLIENT, DEST, '192.0.2.9', 1, 1, Uint8Array.of(9));
    socket.replyTo(0, undefined, (icmp) => icmp.writeUInt16BE((echo.identifier + 1) & 0xffff, 4));
    expect(ctx.stats.get('uplinkIcmpNotOurs')).toBe(1);
    socket.replyTo(0, '192.0.2.66');
    socket.replyTo(0, undefined, (icmp) => icmp.writeUInt16BE(0x1234, 2)); // wrong checksum
    expect(ctx.stats.get('uplinkIcmpEchoUnmatched')).toBe(2);
    expect(delivered).toHaveLength(0);
    socket.replyTo(0);
    socket.replyTo(0); // a duplicate: nothing outstanding any more
    expect(delivered).toHaveLength(1);
    expect(ctx.stats.get('uplinkIcmpEchoUnmatched')).toBe(3);
    // Our own request, looped back on lo, is seen by the raw socket too.
    socket.onMessage(Buffer.concat([Buffer.from([0x45, ...new Array<number>(19).fill(0)]), socket.sent[0]!.bytes]), '192.0.2.9');
    expect(ctx.stats.get('uplinkIcmpNotOurs')).toBe(2);
  });

  it('caps outstanding echoes and forgets them after the timeout (injected clock)', () => {
    const { ctx, socket, delivered, echo } = setup({ maxOutstanding: 3, timeoutMs: 1000 });
    for (let i = 0; i < 5; i++) echo.send(CLIENT, DEST, '192.0.2.9', 1, i, new Uint8Array(0));
    expect(socket.sent).toHaveLength(3);
    expect(ctx.stats.get('uplinkIcmpEchoFull')).toBe(2);
    ctx.clock.advance(999);
    ctx.timers.run();
    expect(echo.pending).toBe(3);
    ctx.clock.advance(1);
    ctx.timers.run();
    expect(echo.pending).toBe(0);
    expect(ctx.stats.get('uplinkIcmpEchoTimeouts')).toBe(3);
    socket.replyTo(1); // too late
    expect(delivered).toHaveLength(0);
    expect(ctx.stats.get('uplinkIcmpEchoUnmatched')).toBe(1);
    echo.send(CLIENT, DEST, '192.0.2.9', 1, 9, new Uint8Array(0));
    expect(socket.sent).toHaveLength(4);
  });

  it('skips sequence numbers still outstanding when its counter wraps', () => {
    const { socket, echo } = setup({ maxOutstanding: 2 });
    echo.send(CLIENT, DEST, '192.0.2.9', 1, 0, new Uint8Array(0)); // seq 0, kept outstanding
    for (let i = 1; i < 65_536; i++) {
      echo.send(CLIENT, DEST, '192.0.2.9', 1, i, new Uint8Array(0));
      socket.replyTo(i);
    }
    echo.send(CLIENT, DEST, '192.0.2.9', 1, 0, new Uint8Array(0));
    expect(socket.sent.at(-1)!.bytes.readUInt16BE(6)).toBe(1);
  });

  it('without a raw socket (not root) counts every echo as unsupported', () => {
    const ctx = createTestContext();
    const echo = new HostEcho(ctx, () => {}, {
      openSocket: () => {
        throw new Error('Operation not permitted');
      },
    });
    expect(echo.available).toBe(false);
    echo.send(CLIENT, DEST, '192.0.2.9', 1, 1, new Uint8Array(0));
    expect(ctx.stats.get('uplinkIcmpUnsupported')).toBe(1);
    expect(echo.show()).toContain('Operation not permitted');
  });

  it('close() closes the socket and cancels the timers', () => {
    const { ctx, socket, echo } = setup({ timeoutMs: 10 });
    echo.send(CLIENT, DEST, '192.0.2.9', 1, 1, new Uint8Array(0));
    echo.close();
    expect(socket.closed).toBe(true);
    ctx.clock.advance(100);
    ctx.timers.run();
    expect(ctx.stats.get('uplinkIcmpEchoTimeouts')).toBe(0);
  });
});
