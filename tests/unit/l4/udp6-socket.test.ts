/** UDP over IPv6 between two hosts on an in-memory link ('udp6' sockets). */
import { describe, expect, it } from 'vitest';
import { twoHosts } from '../two-hosts.js';
import type { UdpRemoteInfo } from '../../../src/l4/udp/udp.js';

const dualHosts = () => twoHosts({ ipv6: true, seed: 3 });

describe('UDP over IPv6', () => {
  it('echoes a datagram through udp6 sockets, resolving with NDP', async () => {
    const { a, b, run } = dualHosts();
    const server = b.udp.createSocket('udp6');
    server.on('message', (msg, rinfo) => server.send(msg, rinfo.port, rinfo.address));
    server.bind(7);
    const client = a.udp.createSocket('udp6');
    const reply = new Promise<[Buffer, UdpRemoteInfo]>((resolve) => client.on('message', (m, r) => resolve([m, r])));
    client.send('over six', 7, 'fd00::2');
    const [msg, rinfo] = await run(reply);
    expect(msg.toString()).toBe('over six');
    expect(rinfo).toMatchObject({ address: 'fd00::2', family: 'IPv6', port: 7 });
    expect(client.address()).toMatchObject({ family: 'IPv6', address: '::' });
  });

  it('answers a closed port with ICMPv6 port unreachable', async () => {
    const { a, b, run } = dualHosts();
    const got = new Promise<number>((resolve) => {
      a.icmp6.onError = (e: { type: number; code: number }) => resolve(e.type * 256 + e.code);
    });
    a.udp.createSocket('udp6').send('x', 9, 'fd00::2');
    expect(await run(got)).toBe(1 * 256 + 4); // destination unreachable, port unreachable (RFC 4443 §3.1)
    expect(b.ctx.stats.get('UdpNoPorts')).toBe(1);
  });

  it('keeps the families apart: a udp4 socket does not see IPv6', async () => {
    const { a, b, run } = dualHosts();
    const v4 = b.udp.createSocket('udp4').bind(53);
    let seen = 0;
    v4.on('message', () => seen++);
    const errors = new Promise<number>((resolve) => {
      a.icmp6.onError = (e: { type: number }) => resolve(e.type);
    });
    a.udp.createSocket('udp6').send('q', 53, 'fd00::2');
    expect(await run(errors)).toBe(1);
    expect(seen).toBe(0);
  });
});
