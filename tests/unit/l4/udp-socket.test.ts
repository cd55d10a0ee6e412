/** UDP sockets between two hosts on an in-memory link. */
import { describe, expect, it } from 'vitest';
import { twoHosts } from '../two-hosts.js';
import type { UdpRemoteInfo } from '../../../src/l4/udp/udp.js';

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
