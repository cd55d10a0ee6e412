/** UDP sockets between two hosts on an in-memory link. */
import { describe, expect, it } from 'vitest';
import { A, B, twoHosts } from '../two-hosts.js';
import type { UdpRemoteInfo } from '../../../src/l4/udp/udp.js';
import { createTestContext } from '../../../src/core/context.js';
import { fold, pseudoHeaderSumV4 } from '../../../src/core/checksum.js';
import { completePartialChecksum } from '../../../src/core/offload.js';
import type { TxOffload } from '../../../src/device/device.js';
import { createWirePair } from '../../../src/device/wire.js';
import { verifyUdpChecksumV4 } from '../../../src/l4/udp/header.js';
import { Host } from '../../../src/node/host.js';

describe('UDP sockets', () => {
  it('echo: a datagram goes out, the reply comes back to the ephemeral port', async () => {
    const { a, b, run } = twoHosts();
    const server = b.udp.createSocket();
    server.on('message', (msg, rinfo) => server.send(Buffer.concat([Buffer.from('echo:'), msg]), rinfo.port, rinfo.address));
    server.bind(7);
    const client = a.udp.createSocket();
    const reply = new Promise<[Buffer, UdpRemoteInfo]>((resolve) => client.on('message', (m, r) => resolve([m, r])));
    client.send('hello', 7, '10.0.0.2');
    const [msg, rinfo] = await run(reply);
    expect(msg.toString()).toBe('echo:hello');
    expect(rinfo).toMatchObject({ address: '10.0.0.2', port: 7, size: 10, family: 'IPv4' });
    expect(client.address().port).toBeGreaterThanOrEqual(32768);
    expect(client.address().port).toBeLessThanOrEqual(60999);
    expect(b.ctx.stats.get('UdpInDatagrams')).toBe(1);
    expect(a.ctx.stats.get('UdpInDatagrams')).toBe(1);
  });

  it('a closed port answers ICMP port unreachable and counts UdpNoPorts', async () => {
    const { a, b, run } = twoHosts();
    const errors: number[] = [];
    a.icmp.onError = (e) => errors.push(e.type * 256 + e.code);
    a.udp.createSocket().send('x', 9999, '10.0.0.2');
    for (let i = 0; i < 100 && errors.length === 0; i++) await run(Promise.resolve(), 10);
    expect(b.ctx.stats.get('UdpNoPorts')).toBe(1);
    expect(errors).toEqual([3 * 256 + 3]);
  });

  it('a bad checksum is dropped and counted', async () => {
    const { a, b, run } = twoHosts();
    const server = b.udp.createSocket().bind(53);
    let got = 0;
    server.on('message', () => got++);
    // Corrupt the UDP checksum on the way: send through the layer, then flip a byte in the frame.
    const device = a.interfaces[0]!.device;
    const send = device.send.bind(device);
    device.send = (frame: Uint8Array) => {
      const copy = frame.slice();
      if (copy.length > 42 && copy[23] === 17) copy[14 + 20 + 6] = copy[14 + 20 + 6]! ^ 0x55; // UDP checksum byte
      send(copy);
    };
    a.udp.createSocket().send('abc', 53, '10.0.0.2');
    for (let i = 0; i < 100; i++) await run(Promise.resolve(), 10);
    expect(got).toBe(0);
    expect(b.ctx.stats.get('UdpInCsumErrors')).toBe(1);
    expect(b.ctx.stats.get('UdpInErrors')).toBe(1);
  });

  it('refuses a port in use, bad ports and unflagged broadcast', () => {
    const { a } = twoHosts();
    a.udp.createSocket().bind(5000);
    expect(() => a.udp.createSocket().bind(5000)).toThrow(/in use/);
    expect(() => a.udp.createSocket().bind(70000)).toThrow(/invalid port/);
    expect(() => a.udp.createSocket().bind(1, '10.9.9.9')).toThrow(/not available/);
    expect(() => a.udp.createSocket().send('x', 67, '255.255.255.255')).toThrow(/setBroadcast/);
  });

  it('broadcast reaches a wildcard socket and carries the interface name', async () => {
    const { a, b, run } = twoHosts();
    const server = b.udp.createSocket().bind(67);
    const got = new Promise<UdpRemoteInfo>((resolve) => server.on('message', (_m, r) => resolve(r)));
    const client = a.udp.createSocket();
    client.setBroadcast(true);
    client.bindToLink(a.interfaces[0]!);
    client.bind(68);
    client.send('discover', 67, '255.255.255.255');
    const rinfo = await run(got);
    expect(rinfo.interface).toBe('b0');
    expect(rinfo.localAddress).toBe('255.255.255.255');
  });
});

/** Two hosts on a wire pair whose ends take partial checksums (device/wire.ts with offload), A's frames recorded. */
function offloadHosts() {
  const ctx = createTestContext(3);
  const [da, db] = createWirePair(ctx, 'a0', 'b0', 1500, true);
  const frames: { frame: Uint8Array; offload: TxOffload | undefined }[] = [];
  const send = da.send.bind(da);
  da.send = (frame, offload) => {
    frames.push({ frame: frame.slice(), offload: offload && { ...offload } });
    send(frame, offload);
  };
  const a = new Host(ctx);
  const b = new Host(ctx);
  a.addInterface(da, { name: 'a0', mac: 0x020000000001, ipv4: [{ address: A, prefixLength: 24 }] });
  b.addInterface(db, { name: 'b0', mac: 0x020000000002, ipv4: [{ address: B, prefixLength: 24 }] });
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 20; i++) {
      ctx.timers.advanceTo(ctx.clock, ctx.clock.now() + 1);
      await Promise.resolve();
    }
  };
  return { a, b, frames, settle };
}

describe('UDP on the packet path (onDatagram, sendTo, checksumOffload)', () => {
  it('onDatagram gets a view of the payload and a numeric source instead of the message event', async () => {
    const { a, b, run } = twoHosts();
    const server = b.udp.createSocket().bind(4000);
    let events = 0;
    server.on('message', () => events++);
    const got: { text: string; family: number; address: number; port: number; link: string }[] = [];
    server.onDatagram = (payload, source) => got.push({ text: Buffer.from(payload).toString(), family: source.family, address: source.address4, port: source.port, link: source.link.name });
    const client = a.udp.createSocket().bind(5555);
    client.sendTo(Buffer.from('view'), 4000, B);
    await run(Promise.resolve(), 20);
    expect(got).toEqual([{ text: 'view', family: 4, address: A, port: 5555, link: 'b0' }]);
    expect(events).toBe(0);
    expect(b.ctx.stats.get('UdpInDatagrams')).toBe(1);
  });

  it('checksumOffload leaves the pseudo-header sum for a link that finishes it; the finished sum verifies', async () => {
    const { a, b, frames, settle } = offloadHosts();
    const got: string[] = [];
    b.udp.createSocket().bind(4000).on('message', (m) => got.push(m.toString()));
    const fast = a.udp.createSocket().bind(5555);
    fast.checksumOffload = true;
    a.udp.createSocket().send('plain', 4000, '10.0.0.2'); // resolves ARP first
    await settle();
    fast.sendTo(Buffer.from('partial'), 4000, B);
    await settle();
    expect(got).toEqual(['plain', 'partial']);
    const udpFrames = frames.filter((f) => f.frame[12] === 0x08 && f.frame[13] === 0x00 && f.frame[14 + 9] === 17);
    const [plain, partial] = udpFrames.map((f) => f);
    expect(plain!.offload).toBeUndefined();
    expect(verifyUdpChecksumV4(plain!.frame.subarray(34), A, B)).toBe(true);
    // NEEDS_CSUM from the UDP header on, field at +6, holding only the folded pseudo-header sum.
    expect(partial!.offload).toMatchObject({ checksumStart: 14 + 20, checksumOffset: 6, gsoSize: 0 });
    const udp = partial!.frame.subarray(34);
    expect((udp[6]! << 8) | udp[7]!).toBe(fold(pseudoHeaderSumV4(A, B, 17, udp.length)));
    completePartialChecksum(partial!.frame, partial!.offload!);
    expect(verifyUdpChecksumV4(udp, A, B)).toBe(true);
    expect(b.ctx.stats.get('UdpInCsumErrors')).toBe(0);
  });

  it('checksumOffload towards a link without it: the checksum is computed in full', async () => {
    const { a, b, run } = twoHosts();
    const frames: Uint8Array[] = [];
    const device = a.interfaces[0]!.device;
    const send = device.send.bind(device);
    device.send = (frame: Uint8Array, offload) => {
      frames.push(frame.slice());
      send(frame, offload);
    };
    let got = 0;
    b.udp.createSocket().bind(4000).on('message', () => got++);
    const s = a.udp.createSocket();
    s.checksumOffload = true;
    s.sendTo(Buffer.from('x'), 4000, B);
    await run(Promise.resolve(), 20);
    expect(got).toBe(1);
    const udp = frames.find((f) => f[12] === 0x08 && f[14 + 9] === 17)!.subarray(34);
    expect(verifyUdpChecksumV4(udp, A, B)).toBe(true);
  });
});
