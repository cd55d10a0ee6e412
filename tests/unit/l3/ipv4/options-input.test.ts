/**
 * IPv4 options on arrival, as Linux's ip_options_compile()/ip_rcv_options()
 * treat them: malformed options are header errors answered with ICMP
 * Parameter Problem (pointer at the bad octet), source-routed packets are
 * dropped, well-formed options are accepted.
 */
import { describe, expect, it } from 'vitest';
import { A, B, twoHosts } from '../../two-hosts.js';
import { checkIpv4Options, emitIpv4Header, ipv4HeaderLength, ipv4Record } from '../../../../src/l3/ipv4/header.js';
import { emitIcmpv4Echo } from '../../../../src/l3/icmpv4/message.js';
import { IpProtocol } from '../../../../src/l3/ip-protocol.js';
import type { IcmpErrorEvent } from '../../../../src/l3/icmpv4/icmpv4.js';

const hex = (s: string): Uint8Array => Uint8Array.from(s.replace(/\s+/g, '').match(/../g)!, (h) => parseInt(h, 16));

/** An echo request from A to B carrying `options` (padded to 4 bytes by emit). */
function echoWithOptions(options: Uint8Array, sequence: number): Uint8Array {
  const icmp = new Uint8Array(16);
  emitIcmpv4Echo({ type: 8, identifier: 0x4242, sequence, data: new Uint8Array(8) }, icmp, 0);
  const headerLength = ipv4HeaderLength({ options });
  const packet = new Uint8Array(headerLength + icmp.length);
  emitIpv4Header(ipv4Record({ protocol: IpProtocol.ICMP, source: A, destination: B, options, totalLength: packet.length }), packet, 0);
  packet.set(icmp, headerLength);
  return packet;
}

describe('checkIpv4Options', () => {
  it('accepts NOPs, Record Route and Timestamp with valid pointers, and Router Alert', () => {
    expect(checkIpv4Options(hex('01 07 07 04 00000000'))).toEqual({ kind: 'ok' });
    expect(checkIpv4Options(hex('44 0c 05 00 00000000 00000000'))).toEqual({ kind: 'ok' });
    expect(checkIpv4Options(hex('94 04 0000'))).toEqual({ kind: 'ok' });
  });

  it('points at the length octet of an option whose length is 0, 1 or runs past the header', () => {
    expect(checkIpv4Options(hex('07 00 0000'))).toMatchObject({ kind: 'malformed', pointer: 21 });
    expect(checkIpv4Options(hex('01 07 01 00'))).toMatchObject({ kind: 'malformed', pointer: 22 });
    expect(checkIpv4Options(hex('07 09 04 00'))).toMatchObject({ kind: 'malformed', pointer: 21 });
    expect(checkIpv4Options(hex('01 01 01 07'))).toMatchObject({ kind: 'malformed', pointer: 23 });
  });

  it('checks Record Route and Timestamp pointers (RFC 791 §3.1)', () => {
    expect(checkIpv4Options(hex('07 07 03 00000000'))).toMatchObject({ kind: 'malformed', pointer: 22 });
    expect(checkIpv4Options(hex('07 02 0000'))).toMatchObject({ kind: 'malformed', pointer: 21 });
    expect(checkIpv4Options(hex('44 08 04 00 00000000'))).toMatchObject({ kind: 'malformed', pointer: 22 });
    expect(checkIpv4Options(hex('44 03 05 00'))).toMatchObject({ kind: 'malformed', pointer: 21 });
  });

  it('reports loose and strict source routes', () => {
    expect(checkIpv4Options(hex('83 07 04 0a000001'))).toEqual({ kind: 'sourceRoute' });
    expect(checkIpv4Options(hex('89 07 04 0a000001'))).toEqual({ kind: 'sourceRoute' });
  });
});

describe('a host receiving IPv4 options', () => {
  async function send(options: Uint8Array) {
    const { a, b, run } = twoHosts();
    await run(a.ping(B, { count: 1 })); // ARP resolved both ways
    const errors: IcmpErrorEvent[] = [];
    a.icmp.onError = (e) => errors.push(e);
    const replies: number[] = [];
    a.icmp.echoListeners.set(0x4242, (r) => replies.push(r.sequence));
    a.interfaces[0]!.sendIpv4(echoWithOptions(options, 7), B);
    await run(Promise.resolve(), 50);
    return { b, errors, replies };
  }

  it('answers an echo request with a well-formed Record Route option', async () => {
    const { replies, b } = await send(hex('07 07 04 00000000'));
    expect(replies).toEqual([7]);
    expect(b.ctx.stats.get('IpInHdrErrors')).toBe(0);
  });

  it('drops a packet whose option length is 0 and sends Parameter Problem pointing at it', async () => {
    const { replies, errors, b } = await send(hex('07 00 0000'));
    expect(replies).toEqual([]);
    expect(b.ctx.stats.get('IpInHdrErrors')).toBe(1);
    expect(errors.map((e) => [e.type, e.code])).toEqual([[12, 0]]);
    // The quoted header is the one we sent: pointer 21 is its option's length octet.
    expect(b.ctx.stats.get('IcmpOutParmProbs')).toBe(1);
  });

  it('drops an option running past the header', async () => {
    const { replies, b } = await send(hex('01 01 44 20'));
    expect(replies).toEqual([]);
    expect(b.ctx.stats.get('IpInHdrErrors')).toBe(1);
  });

  it('drops loose and strict source routes silently, counted', async () => {
    for (const option of ['83 07 04 0a000001', '89 07 04 0a000001']) {
      const { replies, errors, b } = await send(hex(option));
      expect(replies).toEqual([]);
      expect(errors).toEqual([]);
      expect(b.ctx.stats.get('ipInSourceRouted')).toBe(1);
    }
  });
});
