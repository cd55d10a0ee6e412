/**
 * IPv6 against the kernel: `tapnet up` advertises fd77::/64, the kernel end
 * (in a fresh namespace) takes a SLAAC address from it, and the real ping -6,
 * ndisc6, rdisc6 and traceroute -6 talk to tapnet. Then hostile IPv6 frames
 * sent raw (bad-frames6.py): each dropped and counted, and tapnet still
 * answers afterwards.
 *
 * dig AAAA / curl -g over IPv6 are not here yet: the DNS server and TCP do
 * not listen on IPv6 so far (the lead adds them when they do).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatIpv6, linkLocalFromMac } from '../../src/l3/ipv6/address.js';
import { parseMac } from '../../src/l2/mac-address.js';
import { PYTHON, ROOT, TAPNET, cleanupTapnet, inNetns, startTapnet, type TapnetProcess } from './harness.js';

const SCRIPT = join(ROOT, 'tests/integration/bad-frames6.py');
/** Linux ip6frag_high_thresh, the IPv6 reassembly memory cap tapnet uses. */
const REASSEMBLY_CAP = 4 * 1024 * 1024;
/** Linux gc_thresh3, the neighbour cache cap. */
const NEIGHBOUR_CACHE_CAP = 1024;
const RSS_LIMIT = 300 * 1024 * 1024;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The kernel end's global SLAAC address once DAD finished, or undefined. */
function slaacAddress(t: TapnetProcess): string | undefined {
  const r = inNetns(t.netns, 'ip', ['-6', '-o', 'addr', 'show', 'dev', t.tap, 'scope', 'global']);
  const line = r.stdout.split('\n').find((l) => /inet6 fd77:/.test(l) && !/tentative/.test(l));
  return line ? /inet6 ([0-9a-f:]+)\/64/.exec(line)?.[1] : undefined;
}

/** Starts tapnet and waits (polling, up to 20 s) for the kernel end to finish SLAAC. */
async function startWithSlaac(): Promise<{ t: TapnetProcess; kernel: string }> {
  const t = await startTapnet();
  for (let i = 0; i < 100; i++) {
    const a = slaacAddress(t);
    if (a) return { t, kernel: a };
    await sleep(200);
  }
  const shown = inNetns(t.netns, 'ip', ['-6', 'addr']).stdout;
  await t.stop();
  cleanupTapnet(t);
  throw new Error(`the kernel end got no SLAAC address:\n${shown}\n${t.output()}`);
}

function tapnetMac(t: TapnetProcess): string {
  return /([0-9a-f]{2}(?::[0-9a-f]{2}){5})/.exec(t.cli(['show', 'interfaces']).stdout)![1]!;
}

describe('IPv6 with the kernel as the peer', () => {
  let t: TapnetProcess;
  let kernel: string;

  beforeAll(async () => {
    ({ t, kernel } = await startWithSlaac());
  }, 40_000);
  afterAll(async () => {
    if (t) {
      await t.stop();
      cleanupTapnet(t);
    }
  });

  it('the kernel end takes a SLAAC address and a default route from the router advertisement', () => {
    expect(kernel).toMatch(/^fd77::/);
    const addr = inNetns(t.netns, 'ip', ['-6', 'addr', 'show', 'dev', t.tap]).stdout;
    expect(addr).toMatch(/inet6 fd77::[0-9a-f:]+\/64 scope global dynamic/);
    // The router is tapnet's link-local address: the EUI-64 of its MAC (RFC 4862 §5.3).
    const linkLocal = formatIpv6(linkLocalFromMac(parseMac(tapnetMac(t))!));
    expect(inNetns(t.netns, 'ip', ['-6', 'route']).stdout).toMatch(new RegExp(`default via ${linkLocal} dev ${t.tap} proto ra`));
    expect(t.stats().Icmp6OutRouterAdvertisements).toBeGreaterThanOrEqual(1);
  });

  it('answers ping -6 on its global and link-local addresses', () => {
    const r = inNetns(t.netns, 'ping', ['-6', '-c', '3', '-i', '0.2', '-W', '2', 'fd77::1']);
    expect(r.stdout, r.stderr).toContain('3 received');
    const ll = /default via (fe80::[0-9a-f:]+)/.exec(inNetns(t.netns, 'ip', ['-6', 'route']).stdout)![1]!;
    const r2 = inNetns(t.netns, 'ping', ['-6', '-c', '1', '-W', '2', `${ll}%${t.tap}`]);
    expect(r2.stdout, r2.stderr).toContain('1 received');
    expect(t.stats().Icmp6OutEchoReplies).toBeGreaterThanOrEqual(4);
  });

  it('reassembles and fragments: ping -6 -s 4000 crosses as fragments both ways', () => {
    const before = t.stats();
    const r = inNetns(t.netns, 'ping', ['-6', '-c', '2', '-i', '0.2', '-W', '2', '-s', '4000', 'fd77::1']);
    expect(r.stdout, r.stderr).toContain('2 received');
    expect(r.stdout).toContain('4008 bytes from fd77::1');
    const after = t.stats();
    expect(after.Ip6ReasmOKs! - (before.Ip6ReasmOKs ?? 0)).toBe(2);
    expect(after.Ip6FragOKs! - (before.Ip6FragOKs ?? 0)).toBe(2);
    // 4008 bytes of ICMPv6 in pieces of 1448 (1500 - 40 - 8, rounded down to 8): 3 fragments each.
    expect(after.Ip6FragCreates! - (before.Ip6FragCreates ?? 0)).toBe(6);
  });

  it('handles the largest pings: -s 65000', () => {
    const r = inNetns(t.netns, 'ping', ['-6', '-c', '2', '-i', '0.2', '-W', '3', '-s', '65000', 'fd77::1']);
    expect(r.stdout, r.stderr).toContain('2 received');
    expect(r.stdout).toContain('65008 bytes from fd77::1');
  });

  it('answers ndisc6 with its MAC', () => {
    const r = inNetns(t.netns, 'ndisc6', ['-r', '2', 'fd77::1', t.tap]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout.toLowerCase()).toContain(`target link-layer address: ${tapnetMac(t)}`);
  });

  it('answers rdisc6 with the prefix, MTU and RDNSS', () => {
    const r = inNetns(t.netns, 'rdisc6', ['-r', '2', t.tap]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Prefix\s+: fd77::\/64/);
    expect(r.stdout).toMatch(/Autonomous address conf\.:\s+Yes/);
    expect(r.stdout).toMatch(/MTU\s+:\s+1500 bytes/);
    expect(r.stdout).toMatch(/Recursive DNS server\s+: fd77::1/);
    expect(t.stats().Icmp6InRouterSolicits).toBeGreaterThanOrEqual(1);
  });

  it('is reached by traceroute -6 (ICMP probes) in one hop', () => {
    const r = inNetns(t.netns, 'traceroute', ['-6', '-I', '-n', '-q', '1', '-w', '2', 'fd77::1']);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    // All probes leave at once; the first answer must not be lost while tapnet resolves the kernel end.
    expect(r.stdout).toMatch(/^ 1 {2}fd77::1 /m);
  });

  it('is reached by traceroute -6 with UDP probes: the last hop answers port unreachable', () => {
    const r = inNetns(t.netns, 'traceroute', ['-6', '-n', '-q', '1', '-w', '2', 'fd77::1']);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ 1 {2}fd77::1 {2}[0-9.]+ ms\s*$/m); // no "!P"/"!N" annotation: a clean port unreachable
  });

  it('answers dig over IPv6: AAAA and A of gateway.lab from fd77::1', () => {
    const aaaa = inNetns(t.netns, 'dig', ['@fd77::1', '+time=2', '+tries=1', '+short', 'AAAA', 'gateway.lab']);
    expect(aaaa.stdout.trim()).toBe('fd77::1');
    const a = inNetns(t.netns, 'dig', ['@fd77::1', '+time=2', '+tries=1', '+short', 'A', 'gateway.lab']);
    expect(a.stdout.trim()).toBe('10.77.0.1');
    const ptr = inNetns(t.netns, 'dig', ['@fd77::1', '+time=2', '+tries=1', '+short', '-x', 'fd77::1']);
    expect(ptr.stdout.trim()).toBe('gateway.lab.');
  });

  it('serves HTTP over IPv6: curl -g http://[fd77::1]/bytes/N arrives byte-exact', () => {
    const r = inNetns(t.netns, 'sh', ['-c', 'curl -sS -m 20 -g "http://[fd77::1]/bytes/3000000" | sha256sum']);
    expect(r.status, r.stderr).toBe(0);
    const expected = createHash('sha256').update(Uint8Array.from({ length: 3_000_000 }, (_, i) => i % 251)).digest('hex');
    expect(r.stdout.split(' ')[0]).toBe(expected);
    const page = inNetns(t.netns, 'curl', ['-sS', '-m', '10', '-g', 'http://[fd77::1]/']);
    expect(page.stdout).toContain('inet6 fd77::1/64');
  });

  it('resolves the kernel end with NDP and pings it (tapnet ping)', () => {
    const r = t.cli(['ping', kernel, '-c', '2']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('2 packets transmitted, 2 received');
    expect(t.cli(['show', 'neigh']).stdout).toMatch(new RegExp(`${kernel}\\s+(REACHABLE|STALE|DELAY|PROBE)`));
    expect(t.cli(['show', 'interfaces']).stdout).toContain('inet6 fd77::1/64 scope global');
  });

  it('defends fd77::1 against the kernel claiming it (DAD fails there)', async () => {
    inNetns(t.netns, 'ip', ['-6', 'addr', 'add', 'fd77::1/64', 'dev', t.tap]);
    try {
      let shown = '';
      for (let i = 0; i < 30 && !/dadfailed/.test(shown); i++) {
        await sleep(200);
        shown = inNetns(t.netns, 'ip', ['-6', 'addr', 'show', 'dev', t.tap]).stdout;
      }
      expect(shown).toMatch(/inet6 fd77::1\/64 scope global (dadfailed tentative|tentative dadfailed)/);
    } finally {
      inNetns(t.netns, 'ip', ['-6', 'addr', 'del', 'fd77::1/64', 'dev', t.tap]);
    }
  });

  it('still speaks IPv4 next to IPv6', () => {
    expect(inNetns(t.netns, 'ping', ['-c', '1', '-W', '2', '10.77.0.1']).stdout).toContain('1 received');
  });
});

describe('tapnet up --subnet6', () => {
  const bad: Array<[string, RegExp]> = [
    ['fd77::', /--subnet6/],
    ['fd77::/48', /--subnet6/],
    ['fe80::/64', /--subnet6/],
    ['ff02::/64', /--subnet6/],
    ['not-an-address/64', /--subnet6/],
  ];
  for (const [value, pattern] of bad) {
    it(`exits 2 with one line for --subnet6 ${value}`, () => {
      const r = spawnSync(process.execPath, [TAPNET, 'up', '--subnet6', value], { encoding: 'utf8', timeout: 30_000 });
      expect(r.status).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(pattern);
    });
  }
});

describe('bad IPv6 input from the wire', () => {
  let t: TapnetProcess;
  let kernel: string;
  let mac: string;

  beforeAll(async () => {
    ({ t, kernel } = await startWithSlaac());
    mac = tapnetMac(t);
  }, 40_000);
  afterAll(async () => {
    if (t) {
      await t.stop();
      cleanupTapnet(t);
    }
  });

  /** Sends `kind` and returns how much each counter moved (a ping -6 round trip after proves all were handled). */
  function deltas(kind: string): Record<string, number> {
    const before = t.stats();
    const r = inNetns(t.netns, PYTHON, [SCRIPT, t.tap, mac, kernel, kind], { timeoutMs: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(inNetns(t.netns, 'ping', ['-6', '-c', '1', '-W', '2', 'fd77::1']).stdout).toContain('1 received');
    const after = t.stats();
    const d: Record<string, number> = {};
    for (const [k, v] of Object.entries(after)) if (v !== (before[k] ?? 0)) d[k] = v - (before[k] ?? 0);
    return d;
  }
  /** One ICMPv6 error went out, or the per-host rate limit held it back (RFC 4443 §2.4 (f)). */
  const oneError = (d: Record<string, number>, counter: string): number => (d[counter] ?? 0) + (d.Icmp6OutRateLimitHost ?? 0);

  it('truncated IPv6 header and a payload length that lies', () => {
    expect(deltas('truncated-ipv6').Ip6InTruncatedPkts).toBe(1);
    expect(deltas('lying-payload-length').Ip6InTruncatedPkts).toBe(1);
  });

  it('bad ICMPv6 checksum', () => {
    const d = deltas('bad-icmpv6-checksum');
    expect(d.Icmp6InCsumErrors).toBe(1);
    expect(d.Icmp6OutEchoReplies).toBe(1); // the follow-up ping only
  });

  it('RH0 with segments left: Parameter Problem (RFC 5095)', () => {
    const d = deltas('rh0');
    expect(d.Ip6InHdrErrors).toBe(1);
    expect(oneError(d, 'Icmp6OutParmProblems')).toBe(1);
    expect(d.Icmp6OutEchoReplies).toBe(1);
  });

  it('unknown next header: Parameter Problem code 1', () => {
    const d = deltas('unknown-next-header');
    expect(d.Ip6InUnknownProtos).toBe(1);
    expect(oneError(d, 'Icmp6OutParmProblems')).toBe(1);
  });

  it('unknown options: discarded as their type bits say', () => {
    const d = deltas('unknown-option-discard');
    expect(d.Ip6InHdrErrors).toBe(2);
    expect(oneError(d, 'Icmp6OutParmProblems')).toBe(1); // only the 10xxxxxx one asks for an error
  });

  it('a chain of 20 Destination Options headers is answered, as Linux does (the limit is 32 KiB of headers: ext-headers6.test.ts)', () => {
    const d = deltas('long-header-chain');
    expect(d.Ip6InHdrErrors ?? 0).toBe(0);
    expect(d.Icmp6OutEchoReplies).toBe(2); // the chain's echo request and the follow-up ping
  });

  it('a first fragment without the whole header chain (RFC 7112)', () => {
    const d = deltas('first-fragment-incomplete');
    expect(d.Ip6InHdrErrors).toBe(1);
    expect(d.Ip6ReasmReqds ?? 0).toBe(0);
  });

  it('fragments that are not a multiple of 8 or reach past 65535', () => {
    expect(deltas('fragment-not-multiple-of-8').Ip6InHdrErrors).toBe(1);
    expect(deltas('fragment-past-65535').Ip6InHdrErrors).toBe(1);
  });

  it('overlapping fragments drop the whole datagram (RFC 5722)', () => {
    const d = deltas('overlapping-fragments');
    expect(d.ip6ReasmOverlaps).toBe(1);
    expect(d.Ip6ReasmOKs ?? 0).toBe(0);
    expect(d.Icmp6OutEchoReplies).toBe(1); // only the follow-up ping
  });

  it('NDP with hop limit 64, inside a fragment, or with a zero-length option is ignored', () => {
    expect(deltas('ndp-bad-hop-limit').ndpInBadHopLimit).toBe(1);
    expect(deltas('ndp-in-fragment').ndpInFragmented).toBe(1);
    expect(deltas('ndp-zero-length-option').ndpInErrors).toBe(1);
  }, 150_000); // three scapy runs: ~20 s each on a loaded 2-CPU machine

  it('solicitations for foreign addresses are not answered', () => {
    const d = deltas('ns-foreign');
    expect(d.ndpInForeign).toBe(3); // unicast to fd77::1, asking for fd77::50..52
    expect(d.ip6InMcastNotJoined).toBeGreaterThanOrEqual(1); // to ff02::1:ff00:50, a group tapnet never joined
  });

  it('an unsolicited advertisement creates no cache entry', () => {
    expect(deltas('na-unsolicited').ndpInUnsolicited).toBe(1);
    expect(t.cli(['show', 'neigh']).stdout).not.toContain('fd77::66');
  });

  it('a flood of solicitations from spoofed sources stays under the cache cap', () => {
    const d = deltas('ns-flood');
    expect(d.Icmp6InNeighborSolicits).toBeGreaterThanOrEqual(2000);
    expect(t.stats().ndpCacheEntries).toBeLessThanOrEqual(NEIGHBOUR_CACHE_CAP);
    expect(t.stats().ndpCacheEntries).toBeGreaterThan(NEIGHBOUR_CACHE_CAP / 2);
    // deltas' ping -6 came right after the flood, while the strangers' entries were still being probed (DELAY 5 s,
    // then three 1 s probes): the kernel end kept its entry or got one back. Issue 14 item 15: it once failed
    // whenever the kernel's entry had gone STALE before the flood (a loaded machine; or this test run alone), since
    // the flood evicted it and then left nothing evictable. Strangers now make room for each other: never full.
    expect(t.stats().ndpCacheFull ?? 0).toBe(0);
  });

  it('a fragment flood stays under the memory cap', () => {
    const d = deltas('fragment-flood-memory');
    expect(d.Ip6ReasmReqds).toBe(120 * 40);
    expect(d.ip6ReasmMemoryFull).toBeGreaterThan(0);
    expect(t.stats().ip6ReasmBytes).toBeLessThanOrEqual(REASSEMBLY_CAP);
    const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${t.child.pid}/status`, 'utf8'))![1]) * 1024;
    expect(rss).toBeLessThan(RSS_LIMIT);
  });

  it('still answers ping -6 after all of it', () => {
    expect(inNetns(t.netns, 'ping', ['-6', '-c', '3', '-i', '0.2', '-W', '2', 'fd77::1']).stdout).toContain('3 received');
  });
});
