/**
 * IPv6 extension-header conformance against the kernel (issue 11 item 11):
 * the cases of thc-ipv6's atk6-implementation6 and their edges, sent raw by
 * scapy (ext-headers6.py) from the kernel end of `tapnet up`'s TAP. Each
 * case checks tapnet's answer (an echo reply, a Parameter Problem with its
 * code and pointer, or silence) and the counter that moved, and tapnet
 * answers ping -6 at the end.
 *
 * The expected answers are what Linux 6.18 gave for the same bytes (one
 * exception, zero-length-no-jumbo, where RFC 2675 and Linux disagree), sent
 * with the same script from one namespace into another over a veth pair
 * (ip netns exec A ext-headers6.py vethA MAC_B fd99::1 fd99::2 CASE):
 *
 *   dst-128, dst-160           echo reply: 128/160 Destination Options headers in one packet (no count limit)
 *   dst-2000-frag, dst-n-4000  echo reply: 16000 / 32000 bytes of headers in fragments; the first fragment ends
 *                              at a header boundary, so Linux cannot tell where ICMPv6 starts and reassembles
 *   dst-n-4097                 silence (Linux: silence from 4090 on, counted in Ip6InDiscards; tapnet: past
 *                              32 KiB, ip6InExtHeadersTooLong)
 *   hbh-2k-frag, dst-2k-frag   Parameter Problem 3, pointer 0: the first fragment shows ICMPv6 starting past its end
 *   first-fragment-chain-cut, first-fragment-upper-cut   the same (RFC 7112)
 *   dst-1k-pad1, dst-1k-padn, dst-padn-nonzero, dst-9-unknown, dst-1k-unknown   silence: more than 7 bytes of
 *                              padding in a row, PadN not zero, more than 8 options (Linux ip6_parse_tlv)
 *   dst-8-unknown              echo reply (eight skippable unknown options: the most Linux takes)
 *   hbh-after-dst, hbh-after-atomic-fragment, hbh-twice   Parameter Problem 1, pointer 40 (RFC 8200 §4.1)
 *   hbh-after-fragment         Parameter Problem 1, pointer 6: Hop-by-Hop first in a fragmented datagram's
 *                              fragmentable part; reassembled, the octet naming it is the fixed header's
 *   jumbo-nonzero-length       Parameter Problem 0, pointer 42 (the option); jumbo-small-value: pointer 44 (its
 *                              length); jumbo-misaligned: silence; jumbo-in-dstopt: code 2 at 42 (RFC 2675 §3)
 *   jumbo-zero-length          Payload Length 0 (a jumbogram), Jumbo length 1000: Parameter Problem 0, pointer 44;
 *                              jumbo-zero-length-big (70000, more than arrived): silence
 *   zero-length-no-jumbo       Linux answers the echo request (it processes the frame as received); RFC 2675
 *                              §3 asks for Parameter Problem 0 at Payload Length (4), and tapnet follows the RFC
 *   zero-length-dstopt         silence: Payload Length 0 and no Hop-by-Hop, the Destination Options header is
 *                              past the packet's end
 *   unknown-01 silence; unknown-10, unknown-11: code 2 at 42; to ff02::1: 10 → code 2, 11 → silence (§4.2)
 *   overlap-first-zero, overlap-last-zero   Parameter Problem 1, pointer 40. Both fragments are at offset 0;
 *                              the second has M=0, an atomic fragment (RFC 6946), processed alone: its first
 *                              header is Hop-by-Hop (thc's NXT_HDR, 0) after a Fragment header. No overlap is
 *                              ever seen; the M=1 fragment waits and times out.
 *   overlap-first-dst, overlap-last-dst     silence: offsets 0 and 8 overlap, the datagram is dropped (RFC 5722)
 *   atomic-fragment, atomic-after-queued    echo reply (RFC 6946 §4)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { PYTHON, ROOT, cleanupTapnet, inNetns, startTapnet, type TapnetProcess } from './harness.js';

const SCRIPT = join(ROOT, 'tests/integration/ext-headers6.py');

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The kernel end's global SLAAC address once DAD finished, or undefined. */
function slaacAddress(t: TapnetProcess): string | undefined {
  const r = inNetns(t.netns, 'ip', ['-6', '-o', 'addr', 'show', 'dev', t.tap, 'scope', 'global']);
  const line = r.stdout.split('\n').find((l) => /inet6 fd77:/.test(l) && !/tentative/.test(l));
  return line ? /inet6 ([0-9a-f:]+)\/64/.exec(line)?.[1] : undefined;
}

type Answer = { type: number; code?: number; pointer?: number; id?: number };
const echoReply = (id: number): Answer => ({ type: 129, id });
const parameterProblem = (code: number, pointer: number): Answer => ({ type: 4, code, pointer });

/** [case, what tapnet (like Linux) answers, the counter one packet of it moves]. */
const CASES: Array<[string, Answer[], string]> = [
  ['dst-128', [echoReply(0x101)], 'Icmp6OutEchoReplies'],
  ['dst-160', [echoReply(0x102)], 'Icmp6OutEchoReplies'],
  ['dst-2000-frag', [echoReply(0x103)], 'Ip6ReasmOKs'],
  ['dst-n-4000', [echoReply(0x120)], 'Ip6ReasmOKs'],
  ['dst-n-4097', [], 'ip6InExtHeadersTooLong'],
  ['hbh-2k-frag', [parameterProblem(3, 0)], 'Ip6InHdrErrors'],
  ['dst-2k-frag', [parameterProblem(3, 0)], 'Ip6InHdrErrors'],
  ['first-fragment-chain-cut', [parameterProblem(3, 0)], 'Ip6InHdrErrors'],
  ['first-fragment-upper-cut', [parameterProblem(3, 0)], 'Ip6InHdrErrors'],
  ['dst-1k-pad1', [], 'Ip6InHdrErrors'],
  ['dst-1k-padn', [], 'Ip6InHdrErrors'],
  ['dst-padn-nonzero', [], 'Ip6InHdrErrors'],
  ['dst-9-unknown', [], 'Ip6InHdrErrors'],
  ['dst-1k-unknown', [], 'Ip6InHdrErrors'],
  ['dst-8-unknown', [echoReply(0x109)], 'Icmp6OutEchoReplies'],
  ['hbh-after-dst', [parameterProblem(1, 40)], 'Ip6InUnknownProtos'],
  ['hbh-after-atomic-fragment', [parameterProblem(1, 40)], 'Ip6InUnknownProtos'],
  ['hbh-twice', [parameterProblem(1, 40)], 'Ip6InUnknownProtos'],
  ['hbh-after-fragment', [parameterProblem(1, 6)], 'Ip6InUnknownProtos'],
  ['jumbo-nonzero-length', [parameterProblem(0, 42)], 'Ip6InHdrErrors'],
  ['jumbo-small-value', [parameterProblem(0, 44)], 'Ip6InHdrErrors'],
  ['jumbo-misaligned', [], 'Ip6InHdrErrors'],
  ['jumbo-zero-length', [parameterProblem(0, 44)], 'Ip6InHdrErrors'],
  ['jumbo-zero-length-big', [], 'Ip6InHdrErrors'],
  ['zero-length-no-jumbo', [parameterProblem(0, 4)], 'Ip6InHdrErrors'], // Linux: echo reply (see above)
  ['zero-length-dstopt', [], 'Ip6InHdrErrors'],
  ['jumbo-in-dstopt', [parameterProblem(2, 42)], 'Ip6InHdrErrors'],
  ['unknown-01', [], 'Ip6InHdrErrors'],
  ['unknown-10', [parameterProblem(2, 42)], 'Ip6InHdrErrors'],
  ['unknown-11', [parameterProblem(2, 42)], 'Ip6InHdrErrors'],
  ['unknown-10-multicast', [parameterProblem(2, 42)], 'Ip6InHdrErrors'],
  ['unknown-11-multicast', [], 'Ip6InHdrErrors'],
  ['overlap-first-zero', [parameterProblem(1, 40)], 'Ip6InUnknownProtos'],
  ['overlap-last-zero', [parameterProblem(1, 40)], 'Ip6InUnknownProtos'],
  ['overlap-first-dst', [], 'ip6ReasmOverlaps'],
  ['overlap-last-dst', [], 'ip6ReasmOverlaps'],
  ['atomic-fragment', [echoReply(0x118)], 'Icmp6OutEchoReplies'],
  ['atomic-after-queued', [echoReply(0x119)], 'Icmp6OutEchoReplies'],
];

describe('IPv6 extension headers against the kernel, as Linux answers them', () => {
  let t: TapnetProcess;
  let kernel: string;
  let mac: string;

  beforeAll(async () => {
    t = await startTapnet();
    for (let i = 0; i < 100 && !kernel; i++) {
      kernel = slaacAddress(t) ?? '';
      if (!kernel) await sleep(200);
    }
    if (!kernel) throw new Error(`the kernel end got no SLAAC address:\n${t.output()}`);
    mac = /([0-9a-f]{2}(?::[0-9a-f]{2}){5})/.exec(t.cli(['show', 'interfaces']).stdout)![1]!;
    // Resolve each other first, so every case's answer goes out at once.
    expect(inNetns(t.netns, 'ping', ['-6', '-c', '1', '-W', '2', 'fd77::1']).stdout).toContain('1 received');
  }, 40_000);
  afterAll(async () => {
    if (t) {
      await t.stop();
      cleanupTapnet(t);
    }
  });

  /** Sends one case; returns tapnet's answers (ignoring the fields not compared) and how counters moved. */
  function send(kind: string): { answers: Answer[]; deltas: Record<string, number> } {
    const before = t.stats();
    const r = inNetns(t.netns, PYTHON, [SCRIPT, t.tap, mac, kernel, 'fd77::1', kind, '1'], { timeoutMs: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const answers = r.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => {
        const a = JSON.parse(l) as Answer & { seq?: number; length?: number };
        return a.type === 129 ? { type: a.type, id: a.id } : { type: a.type, code: a.code, pointer: a.pointer };
      });
    const after = t.stats();
    const deltas: Record<string, number> = {};
    for (const [k, v] of Object.entries(after)) if (v !== (before[k] ?? 0)) deltas[k] = v - (before[k] ?? 0);
    return { answers, deltas };
  }

  for (const [kind, expected, counter] of CASES) {
    it(`${kind}: ${expected.length === 0 ? 'silence' : expected.map((a) => (a.type === 129 ? 'echo reply' : `Parameter Problem ${a.code} at ${a.pointer}`)).join(', ')}; ${counter}`, () => {
      const { answers, deltas } = send(kind);
      expect(answers, JSON.stringify(deltas)).toEqual(expected);
      expect(deltas[counter], JSON.stringify(deltas)).toBeGreaterThanOrEqual(1);
      if (expected.some((a) => a.type === 4)) expect(deltas.Icmp6OutParmProblems).toBe(1);
      if (expected.length === 0) expect(deltas.Icmp6OutParmProblems ?? 0).toBe(0);
    }, 60_000);
  }

  it('counts the chain past 32 KiB in ip6InExtHeadersTooLong and Ip6InHdrErrors, once', () => {
    const { deltas } = send('dst-n-4097');
    expect(deltas.ip6InExtHeadersTooLong).toBe(1);
    expect(deltas.Ip6InHdrErrors).toBe(1);
  });

  it('still answers ping -6 after all of it', () => {
    expect(inNetns(t.netns, 'ping', ['-6', '-c', '3', '-i', '0.2', '-W', '2', 'fd77::1']).stdout).toContain('3 received');
  });
});
