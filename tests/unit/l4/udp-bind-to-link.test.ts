/** SO_BINDTODEVICE-like sockets: one per link on the same port (a DHCP server per interface). */
import { describe, expect, it } from 'vitest';
import { twoHosts } from '../two-hosts.js';
import { createLinkPair } from '../../../src/device/link.js';

describe('UDP sockets bound to a link', () => {
  it('may share a port with sockets on other links, and each sees only its own link', async () => {
    const { a, b, ctxA, run } = twoHosts();
    // A second link on host b, to nowhere: only its socket's existence matters.
    const [extra] = createLinkPair(ctxA);
    const other = b.addInterface(extra, { name: 'b1', mac: 0x020000000099, ipv4: [{ address: 0x0a010001, prefixLength: 24 }] });
    const onB0 = b.udp.createSocket().bindToLink(b.interfaces[0]!).bind(67);
    const onB1 = b.udp.createSocket().bindToLink(other).bind(67);
    const got: string[] = [];
    onB0.on('message', (_m, r) => got.push(`b0 from ${r.address} on ${r.interface}`));
    onB1.on('message', () => got.push('b1'));
    // Same port, same link, or an unbound wildcard: still in use.
    expect(() => b.udp.createSocket().bindToLink(other).bind(67)).toThrow(/in use/);
    expect(() => b.udp.createSocket().bind(67)).toThrow(/in use/);
    const client = a.udp.createSocket();
    client.setBroadcast(true);
    client.bindToLink(a.interfaces[0]!);
    client.send('x', 67, '255.255.255.255');
    await run(Promise.resolve(), 5);
    for (let i = 0; i < 5 && got.length === 0; i++) await run(Promise.resolve(), 5);
    expect(got).toEqual(['b0 from 10.0.0.1 on b0']);
  });
});
