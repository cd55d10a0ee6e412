/**
 * Malformed and hostile frames sent raw into the TAP from the kernel side
 * (scapy, through an AF_PACKET socket in the TAP's namespace). Each class is
 * dropped and counted, and tapnet still answers ping afterwards with its
 * memory bounded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PYTHON, ROOT, cleanupTapnet, inNetns, startTapnet, type TapnetProcess } from './harness.js';

const SCRIPT = join(ROOT, 'tests/integration/bad-frames.py');
/** Linux ipfrag_high_thresh, the reassembly memory cap tapnet uses. */
const REASSEMBLY_CAP = 4 * 1024 * 1024;
const REASSEMBLY_DATAGRAMS_CAP = 1024;
/** A coarse guard against runaway growth (tapnet idles near 100 MB); the reassembly gauges are the precise check. */
const RSS_LIMIT = 300 * 1024 * 1024;

function rss(p: TapnetProcess): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p.child.pid}/status`, 'utf8'))![1]) * 1024;
}

describe('bad input from the wire', () => {
  let t: TapnetProcess;
  let mac: string;

  beforeAll(async () => {
    t = await startTapnet();
    const shown = t.cli(['show', 'interfaces']).stdout;
    mac = /([0-9a-f]{2}(?::[0-9a-f]{2}){5})/.exec(shown)![1]!;
  });
  afterAll(async () => {
    if (t) {
      await t.stop();
      cleanupTapnet(t);
    }
  });

  function send(kind: string): void {
    const r = inNetns(t.netns, PYTHON, [SCRIPT, t.tap, mac, kind], { timeoutMs: 120_000 });
    expect(r.status, r.stderr).toBe(0);
  }

  /** Sends `kind` and returns how much each counter moved. */
  function deltas(kind: string): Record<string, number> {
    const before = t.stats();
    send(kind);
    // Frames are processed in order; a ping round trip after them proves they were all handled.
    expect(inNetns(t.netns, 'ping', ['-c', '1', '-W', '2', '10.77.0.1']).stdout).toContain('1 received');
    const after = t.stats();
    const d: Record<string, number> = {};
    for (const [k, v] of Object.entries(after)) if (v !== (before[k] ?? 0)) d[k] = v - (before[k] ?? 0);
    return d;
  }

  it('truncated Ethernet frames', () => {
    expect(deltas('truncated-ethernet').ethInErrors).toBe(3);
  });

  it('truncated IPv4 header', () => {
    const d = deltas('truncated-ip');
    expect(d.IpExtInTruncatedPkts).toBe(1);
    expect(d.IpInHdrErrors).toBe(1);
  });

  it('total length that claims more than the frame holds', () => {
    expect(deltas('lying-total-length').IpInHdrErrors).toBe(1);
  });

  it('total length smaller than the header', () => {
    expect(deltas('total-length-below-header').IpInHdrErrors).toBe(1);
  });

  it('bad IPv4 header checksum', () => {
    const d = deltas('bad-ip-checksum');
    expect(d.IpExtInCsumErrors).toBe(1);
    expect(d.IcmpInMsgs).toBe(1); // only the ping that followed
  });

  it('bad ICMP checksum', () => {
    const d = deltas('bad-icmp-checksum');
    expect(d.IcmpInCsumErrors).toBe(1);
    expect(d.IcmpOutEchoReps).toBe(1); // the follow-up ping only
  });

  it('IPv4 version and IHL garbage', () => {
    expect(deltas('bad-version').IpInHdrErrors).toBe(1);
    expect(deltas('bad-ihl').IpInHdrErrors).toBe(1);
    expect(deltas('ihl-past-end').IpInHdrErrors).toBe(1);
  });

  it('overlapping fragments drop the whole datagram', () => {
    const d = deltas('overlapping-fragments');
    expect(d.IpReasmFails).toBeGreaterThanOrEqual(1);
    expect(d.IpReasmOKs ?? 0).toBe(0);
    expect(d.IcmpOutEchoReps).toBe(1); // no reply to the overlapped echo, only to the follow-up ping
  });

  it('a fragment reaching past 65535 bytes drops the datagram', () => {
    const d = deltas('oversized-fragment');
    expect(d.IpReasmFails).toBeGreaterThanOrEqual(1);
    expect(d.IpReasmOKs ?? 0).toBe(0);
  });

  it('a fragment flood stays under the memory cap', () => {
    const d = deltas('fragment-flood-memory');
    const s = t.stats();
    expect(d.IpReasmReqds).toBe(120 * 40);
    expect(d.ipReasmMemoryFull).toBeGreaterThan(0);
    expect(s.ipReasmBytes).toBeLessThanOrEqual(REASSEMBLY_CAP);
    expect(rss(t)).toBeLessThan(RSS_LIMIT);
  });

  it('a flood of distinct datagrams stays under the datagram cap', async () => {
    // A fresh instance: the memory flood above holds the reassembly budget for 30 s.
    const u = await startTapnet();
    try {
      const shown = u.cli(['show', 'interfaces']).stdout;
      const umac = /([0-9a-f]{2}(?::[0-9a-f]{2}){5})/.exec(shown)![1]!;
      const r = inNetns(u.netns, PYTHON, [SCRIPT, u.tap, umac, 'fragment-flood-datagrams'], { timeoutMs: 120_000 });
      expect(r.status, r.stderr).toBe(0);
      expect(inNetns(u.netns, 'ping', ['-c', '1', '-W', '2', '10.77.0.1']).stdout).toContain('1 received');
      const s = u.stats();
      expect(s.IpReasmReqds).toBe(3000);
      expect(s.ipReasmEvicted).toBe(3000 - REASSEMBLY_DATAGRAMS_CAP); // the oldest make room for the newest
      expect(s.ipReasmDatagrams).toBe(REASSEMBLY_DATAGRAMS_CAP);
      expect(rss(u)).toBeLessThan(RSS_LIMIT);
    } finally {
      await u.stop();
      cleanupTapnet(u);
    }
  });

  it('ARP for foreign addresses is not answered', () => {
    expect(deltas('arp-foreign').arpInForeign).toBe(3);
  });

  it('an unsolicited ARP reply creates no cache entry', () => {
    const d = deltas('arp-unsolicited-reply');
    expect(d.arpInUnsolicited).toBe(1);
    expect(t.cli(['show', 'arp']).stdout).not.toContain('10.77.0.66');
  });

  it('malformed ARP is dropped and counted', () => {
    expect(deltas('arp-garbage').arpInErrors).toBe(2);
  });

  it('still answers ping after all of it', () => {
    expect(inNetns(t.netns, 'ping', ['-c', '3', '-i', '0.2', '-W', '2', '10.77.0.1']).stdout).toContain('3 received');
  });
});
