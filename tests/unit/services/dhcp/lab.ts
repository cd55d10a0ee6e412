/**
 * A DHCP test lab on an in-memory link: host S (10.0.0.1/24, the server side)
 * and host C (no address yet, the client side), sharing a manual clock with
 * their own counters. `probe()` opens port 68 on C to send hand-made
 * messages and collect every reply; `run(ms)` moves the clock.
 */
import { createTestContext, type StackContext } from '../../../../src/core/context.js';
import { Stats } from '../../../../src/core/stats.js';
import { Tracer, silentLogger } from '../../../../src/core/trace.js';
import { createLinkPair } from '../../../../src/device/link.js';
import type { ImpairmentOptions } from '../../../../src/device/impairment.js';
import { parseIpv4 } from '../../../../src/l3/ipv4/address.js';
import { Host } from '../../../../src/node/host.js';
import { BootpOp, DhcpFlags, encodeDhcpMessage, parseDhcpMessage, type DhcpMessage } from '../../../../src/services/dhcp/message.js';
import { DhcpMessageType, type DhcpOptions } from '../../../../src/services/dhcp/options.js';
import type { UdpRemoteInfo } from '../../../../src/l4/udp/udp.js';

export const SERVER = parseIpv4('10.0.0.1')!;
export const CLIENT_MAC = 0x02_00_00_00_00_c1;

export function dhcpLab(options: { seed?: number; impairment?: ImpairmentOptions } = {}) {
  const ctx = createTestContext(options.seed ?? 11);
  const clientStats = new Stats();
  const ctxC: StackContext = { ...ctx, stats: clientStats, trace: new Tracer(silentLogger, clientStats) };
  const [ds, dc] = createLinkPair(ctx, { impairment: options.impairment });
  const s = new Host(ctx);
  const c = new Host(ctxC);
  s.addInterface(ds, { name: 's0', mac: 0x02_00_00_00_00_01, ipv4: [{ address: SERVER, prefixLength: 24 }] });
  c.addInterface(dc, { name: 'c0', mac: CLIENT_MAC });
  const run = (ms: number): void => ctx.timers.advanceTo(ctx.clock, ctx.clock.now() + ms);
  /** Lets frames in flight arrive (the link delivers on the next timer run). */
  const settle = (): void => run(1);

  /** Port 68 on C: send raw DHCP messages from 0.0.0.0 by broadcast, collect parsed replies. */
  const probe = () => {
    const socket = c.udp.createSocket();
    socket.bindToLink(c.interfaces[0]!);
    socket.setBroadcast(true);
    socket.bind(68);
    const replies: Array<{ message: DhcpMessage; rinfo: UdpRemoteInfo }> = [];
    socket.on('message', (msg, rinfo) => {
      const parsed = parseDhcpMessage(msg);
      if (parsed.ok) replies.push({ message: parsed.value, rinfo });
    });
    const sendBytes = (bytes: Uint8Array, to = '255.255.255.255'): void => {
      socket.send(bytes, 67, to);
      settle();
    };
    const send = (m: Partial<DhcpMessage> & { options: DhcpOptions }, to?: string): void => {
      const buf = new Uint8Array(1500);
      const n = encodeDhcpMessage(request(m), buf, 0);
      sendBytes(buf.subarray(0, n), to);
    };
    return { socket, replies, send, sendBytes, last: () => replies[replies.length - 1] };
  };
  return { ctx, ctxC, s, c, run, settle, probe };
}

/** A BOOTREQUEST with Ethernet defaults; override what the test is about. */
export function request(m: Partial<DhcpMessage> & { options: DhcpOptions }): DhcpMessage {
  return {
    op: BootpOp.BOOTREQUEST,
    htype: 1,
    hlen: 6,
    hops: 0,
    xid: 0x1234,
    secs: 0,
    flags: DhcpFlags.BROADCAST,
    ciaddr: 0,
    yiaddr: 0,
    siaddr: 0,
    giaddr: 0,
    chaddr: CLIENT_MAC,
    sname: '',
    file: '',
    ...m,
  };
}

export { DhcpMessageType };
