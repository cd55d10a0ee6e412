/**
 * IPv4 Identification (RFC 6864, RFC 7739): per-destination counters with
 * random jumps after idle time, ID 0 for atomic (DF) datagrams. The idle-scan
 * test is the attack from the audit: an observer's view of our IDs must not
 * change when we send to somebody else.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock, seededRandom } from '../../../../src/core/time.js';
import { Ipv4IdentificationGenerator } from '../../../../src/l3/ipv4/identification.js';
import { parseIpv4 } from '../../../../src/l3/ipv4/address.js';
import { IpProtocol } from '../../../../src/l3/ip-protocol.js';
import fc from 'fast-check';
import { B, twoHosts } from '../../two-hosts.js';

const US = parseIpv4('10.0.0.1')!;
const OBSERVER = parseIpv4('192.0.2.7')!;
const VICTIM = parseIpv4('198.51.100.9')!;

describe('Ipv4IdentificationGenerator', () => {
  it('gives atomic (DF) datagrams ID 0', () => {
    const ids = new Ipv4IdentificationGenerator(new ManualClock(0), seededRandom(1));
    expect(ids.next(US, OBSERVER, IpProtocol.TCP, true)).toBe(0);
  });

  it('counts up by one per datagram to the same peer when no time passes', () => {
    const ids = new Ipv4IdentificationGenerator(new ManualClock(0), seededRandom(2));
    const first = ids.next(US, OBSERVER, IpProtocol.ICMP, false);
    expect(ids.next(US, OBSERVER, IpProtocol.ICMP, false)).toBe((first + 1) & 0xffff);
  });

  it('idle scan: 100 datagrams to the victim do not move the counter the observer sees', () => {
    const ids = new Ipv4IdentificationGenerator(new ManualClock(0), seededRandom(3));
    const before = ids.next(US, OBSERVER, IpProtocol.ICMP, false);
    for (let i = 0; i < 100; i++) ids.next(US, VICTIM, IpProtocol.TCP, false);
    expect(ids.next(US, OBSERVER, IpProtocol.ICMP, false)).toBe((before + 1) & 0xffff);
  });

  it('jumps by a random amount after the bucket was idle, so the gap does not count our packets', () => {
    const clock = new ManualClock(0);
    const ids = new Ipv4IdentificationGenerator(clock, seededRandom(4));
    const gaps = new Set<number>();
    let last = ids.next(US, OBSERVER, IpProtocol.ICMP, false);
    for (let i = 0; i < 20; i++) {
      clock.advance(1000);
      const id = ids.next(US, OBSERVER, IpProtocol.ICMP, false);
      gaps.add((id - last) & 0xffff);
      last = id;
    }
    expect(gaps.size).toBeGreaterThan(10);
    for (const g of gaps) expect(g).toBeGreaterThanOrEqual(1);
  });

  it('any flow gets a 16-bit ID, one more than its last when no time passed', () => {
    const ids = new Ipv4IdentificationGenerator(new ManualClock(0), seededRandom(9));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 255 }), (s, d, p) => {
        const first = ids.next(s, d, p, false);
        expect(Number.isInteger(first) && first >= 0 && first <= 0xffff).toBe(true);
        expect(ids.next(s, d, p, false)).toBe((first + 1) & 0xffff);
      }),
    );
  });

  it('two runs start from different secrets and counters', () => {
    const a = new Ipv4IdentificationGenerator(new ManualClock(0), seededRandom(5));
    const b = new Ipv4IdentificationGenerator(new ManualClock(0), seededRandom(6));
    expect(a.next(US, OBSERVER, IpProtocol.ICMP, false)).not.toBe(b.next(US, OBSERVER, IpProtocol.ICMP, false));
  });
});

describe('IPv4 output uses it', () => {
  it('echo replies to one host do not reveal how many datagrams went elsewhere', async () => {
    const { a, b, run } = twoHosts();
    const seen: number[] = [];
    // Record the ID of every datagram B sends to A.
    const original = b.interfaces[0]!.sendIpv4.bind(b.interfaces[0]!);
    b.interfaces[0]!.sendIpv4 = (packet, nextHop, offload) => {
      seen.push((packet[4]! << 8) | packet[5]!);
      return original(packet, nextHop, offload);
    };
    await run(a.ping(B, { count: 1 }));
    // B sends 50 UDP datagrams to a third address (they go nowhere; their IDs must not show).
    for (let i = 0; i < 50; i++) b.ipv4Out.send({ destination: parseIpv4('10.0.0.3')!, protocol: 253 }, new Uint8Array(8));
    await run(a.ping(B, { count: 1 }));
    expect(seen.length).toBeGreaterThanOrEqual(2);
    const echoIds = seen.filter((_, i) => i === 0 || i === seen.length - 1);
    // The ping replies are 1 s apart: the ID may jump by the idle time, never by the 50 sent to 10.0.0.3 as a global counter would show exactly.
    expect((echoIds[1]! - echoIds[0]!) & 0xffff).not.toBe(51);
  });
});
