import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { fromHex, setU16 } from '../../../src/core/bytes.js';
import { internetChecksum } from '../../../src/core/checksum.js';
import { PCAP_FLUSH_BYTES, PcapWriter, readPcap, type PcapFile } from '../../../src/core/pcap.js';

/** An ARP request built by hand (RFC 826): who has 10.0.0.2? tell 10.0.0.1. */
const ARP_REQUEST = fromHex(
  'ff ff ff ff ff ff' + // Ethernet destination: broadcast
    '02 00 00 00 00 01' + // Ethernet source
    '08 06' + // EtherType ARP
    '00 01' + // hardware type: Ethernet
    '08 00' + // protocol type: IPv4
    '06 04' + // hardware / protocol address lengths
    '00 01' + // operation: request
    '02 00 00 00 00 01' + // sender hardware address
    '0a 00 00 01' + // sender protocol address 10.0.0.1
    '00 00 00 00 00 00' + // target hardware address (unknown)
    '0a 00 00 02', // target protocol address 10.0.0.2
);

/** ICMP echo request 10.0.0.1 > 10.0.0.2, id 0x1234, seq 1, 8 bytes of data, with valid checksums. */
function icmpEchoRequest(): Uint8Array {
  const f = fromHex(
    '02 00 00 00 00 02  02 00 00 00 00 01  08 00' + // Ethernet: to .2 from .1, IPv4
      '45 00 00 24  00 01 00 00  40 01 00 00  0a 00 00 01  0a 00 00 02' + // IPv4, total length 36, TTL 64, ICMP
      '08 00 00 00  12 34 00 01' + // ICMP echo request, checksum 0 for now, id 0x1234, seq 1
      '74 61 70 6e 65 74 21 0a', // "tapnet!\n"
  );
  setU16(f, 14 + 10, internetChecksum(f, 14, 20));
  setU16(f, 34 + 2, internetChecksum(f, 34, 16));
  return f;
}

let dir = '';
let counter = 0;
const writers: PcapWriter[] = [];
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tapnet-pcap-'));
});
afterEach(() => {
  for (const w of writers.splice(0)) w.close();
  vi.useRealTimers();
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function newWriter(options?: ConstructorParameters<typeof PcapWriter>[1]): PcapWriter {
  const w = new PcapWriter(path.join(dir, `capture-${++counter}.pcap`), options);
  writers.push(w);
  return w;
}

function readBack(file: string): PcapFile {
  const r = readPcap(new Uint8Array(fs.readFileSync(file)));
  if (!r.ok) throw new Error(`readPcap failed: ${JSON.stringify(r.error)}`);
  return r.value;
}

function tcpdump(file: string, ...args: string[]): { stdout: string; stderr: string; status: number | null } {
  const r = spawnSync('tcpdump', ['-r', file, ...args], { encoding: 'utf8' });
  if (r.error) throw new Error(`cannot run tcpdump (is it installed?): ${r.error.message}`);
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

describe('PcapWriter', () => {
  it('writes the libpcap file header: magic a1b2c3d4 (µs), version 2.4, snaplen 262144, Ethernet', () => {
    const w = newWriter();
    w.close();
    expect(fs.readFileSync(w.path)).toEqual(
      Buffer.from(
        fromHex(
          'd4 c3 b2 a1' + // magic, little-endian
            '02 00 04 00' + // version 2.4
            '00 00 00 00' + // thiszone
            '00 00 00 00' + // sigfigs
            '00 00 04 00' + // snaplen 262144
            '01 00 00 00', // LINKTYPE_ETHERNET
        ),
      ),
    );
  });

  it('round-trips frames and timestamps through readPcap', () => {
    const w = newWriter();
    const icmp = icmpEchoRequest();
    expect(w.write(ARP_REQUEST, 1_700_000_000_123.456)).toBe(true);
    expect(w.write(icmp, 1_700_000_001_000)).toBe(true);
    w.write(new Uint8Array(0), 0);
    w.close();
    const file = readBack(w.path);
    expect(file).toMatchObject({ linkType: 1, snapLength: 262_144, littleEndian: true, nanosecond: false });
    expect(file.records.map((r) => [r.seconds, r.microseconds, r.originalLength])).toEqual([
      [1_700_000_000, 123_456, 42],
      [1_700_000_001, 0, 50],
      [0, 0, 0],
    ]);
    expect(file.records[0]!.ts).toBeCloseTo(1_700_000_000_123.456, 3);
    expect(file.records[0]!.data).toEqual(ARP_REQUEST);
    expect(file.records[1]!.data).toEqual(icmp);
    expect(w.records).toBe(3);
  });

  it('rounds to the microsecond, carrying into the seconds', () => {
    const w = newWriter();
    w.write(ARP_REQUEST, 1999.9999);
    w.write(ARP_REQUEST, 2000.0004);
    w.close();
    expect(readBack(w.path).records.map((r) => [r.seconds, r.microseconds])).toEqual([
      [2, 0],
      [2, 0],
    ]);
  });

  it('stamps with the wall clock (microsecond resolution) by default, or with options.now', () => {
    const before = Date.now();
    const w = newWriter();
    w.write(ARP_REQUEST);
    const after = Date.now();
    w.close();
    const ts = readBack(w.path).records[0]!.ts;
    expect(ts).toBeGreaterThanOrEqual(before - 1);
    expect(ts).toBeLessThanOrEqual(after + 1);

    const w2 = newWriter({ now: () => 5_000.25 });
    w2.write(ARP_REQUEST);
    w2.close();
    expect(readBack(w2.path).records[0]).toMatchObject({ seconds: 5, microseconds: 250 });
  });

  it('truncates frames to the snap length and keeps the original length', () => {
    const w = newWriter({ snapLength: 20 });
    w.write(ARP_REQUEST, 0);
    w.close();
    const file = readBack(w.path);
    expect(file.snapLength).toBe(20);
    expect(file.records[0]!.data).toEqual(ARP_REQUEST.subarray(0, 20));
    expect(file.records[0]!.originalLength).toBe(42);
  });

  it('buffers: nothing but the file header reaches the file until 64 KiB, flush() or close()', () => {
    const w = newWriter({ flushIntervalMs: 0 });
    w.write(ARP_REQUEST, 0);
    expect(fs.statSync(w.path).size).toBe(24);
    w.flush();
    expect(fs.statSync(w.path).size).toBe(24 + 16 + 42);
    // 58 bytes a record: fill the 64 KiB buffer and one more record forces a write without flush().
    const perBuffer = Math.floor(PCAP_FLUSH_BYTES / 58);
    for (let i = 0; i < perBuffer; i++) w.write(ARP_REQUEST, i);
    expect(fs.statSync(w.path).size).toBe(24 + 58);
    w.write(ARP_REQUEST, 0);
    expect(fs.statSync(w.path).size).toBe(24 + 58 + perBuffer * 58);
    w.close();
    expect(readBack(w.path).records).toHaveLength(perBuffer + 2);
  });

  it('flushes on its interval timer', () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const w = newWriter({ flushIntervalMs: 100 });
    w.write(ARP_REQUEST, 0);
    vi.advanceTimersByTime(99);
    expect(fs.statSync(w.path).size).toBe(24);
    vi.advanceTimersByTime(1);
    expect(fs.statSync(w.path).size).toBe(24 + 58);
  });

  it('writes a record larger than the buffer on its own, in order', () => {
    const w = newWriter();
    const big = new Uint8Array(100_000).map((_, i) => i & 0xff);
    w.write(ARP_REQUEST, 1);
    w.write(big, 2);
    w.write(ARP_REQUEST, 3);
    w.close();
    const records = readBack(w.path).records;
    expect(records.map((r) => r.data.length)).toEqual([42, 100_000, 42]);
    expect(records[1]!.data).toEqual(big);
    expect(records.map((r) => r.ts)).toEqual([1, 2, 3]);
  });

  it('ignores writes after close', () => {
    const w = newWriter();
    w.close();
    expect(w.closed).toBe(true);
    expect(w.write(ARP_REQUEST)).toBe(false);
    w.close();
    expect(fs.statSync(w.path).size).toBe(24);
  });

  it('throws when the file cannot be created', () => {
    expect(() => new PcapWriter(path.join(dir, 'no-such-dir', 'x.pcap'))).toThrow(/ENOENT/);
  });
});

describe('tcpdump reads what PcapWriter writes', () => {
  it('prints the hand-built ARP request and ICMP echo request', () => {
    const w = newWriter();
    w.write(ARP_REQUEST, 1000);
    w.write(icmpEchoRequest(), 1500.25);
    w.close();
    const r = tcpdump(w.path, '-nn', '-tt');
    expect(r.stderr).toContain('link-type EN10MB (Ethernet), snapshot length 262144');
    expect(r.status).toBe(0);
    expect(r.stdout.trimEnd().split('\n')).toEqual([
      '1.000000 ARP, Request who-has 10.0.0.2 tell 10.0.0.1, length 28',
      '1.500250 IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id 4660, seq 1, length 16',
    ]);
  });

  it('shows link-layer headers and verifies our checksums with -e -v', () => {
    const w = newWriter();
    w.write(icmpEchoRequest(), 0);
    w.close();
    const r = tcpdump(w.path, '-nn', '-tt', '-e', '-v');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('02:00:00:00:00:01 > 02:00:00:00:00:02, ethertype IPv4 (0x0800), length 50');
    expect(r.stdout).toContain('ttl 64');
    expect(r.stdout).not.toContain('bad cksum');
  });

  it('reports a snap-length-truncated frame as truncated', () => {
    const w = newWriter({ snapLength: 38 });
    w.write(icmpEchoRequest(), 0);
    w.close();
    const r = tcpdump(w.path, '-nn', '-tt');
    expect(r.stderr).toContain('snapshot length 38');
    expect(r.stdout).toContain('[|icmp]');
  });
});

describe('readPcap', () => {
  function validFile(): Uint8Array {
    const w = newWriter();
    w.write(ARP_REQUEST, 1000);
    w.write(ARP_REQUEST, 2000);
    w.close();
    return new Uint8Array(fs.readFileSync(w.path));
  }

  it('reads big-endian and nanosecond files', () => {
    const be = fromHex(
      'a1 b2 3c 4d  00 02 00 04  00 00 00 00  00 00 00 00  00 00 ff ff  00 00 00 01' + // nanosecond magic, BE
        '00 00 00 03  1d cd 65 00  00 00 00 02  00 00 00 02  ab cd', // 3 s + 500,000,000 ns, 2 bytes
    );
    const r = readPcap(be);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value).toMatchObject({ linkType: 1, snapLength: 65535, littleEndian: false, nanosecond: true });
    expect(r.value.records[0]).toMatchObject({ seconds: 3, microseconds: 500_000, ts: 3500, originalLength: 2 });
    expect(r.value.records[0]!.data).toEqual(fromHex('abcd'));
  });

  it('works on a subarray at a non-zero offset', () => {
    const file = validFile();
    const padded = new Uint8Array(file.length + 7);
    padded.set(file, 7);
    const r = readPcap(padded.subarray(7));
    expect(r.ok && r.value.records.length).toBe(2);
  });

  it.each<[string, (f: Uint8Array) => Uint8Array, string, number]>([
    ['a short file header', (f) => f.subarray(0, 23), 'truncated', 0],
    ['a bad magic number', (f) => Object.assign(f.slice(), { 0: 0x0a, 1: 0x0d, 2: 0x0d, 3: 0x0a }), 'badValue', 0],
    ['version 3', (f) => Object.assign(f.slice(), { 4: 3 }), 'unsupportedVersion', 4],
    ['a cut-off record header', (f) => f.subarray(0, 24 + 58 + 10), 'truncated', 24 + 58],
    ['a cut-off record body', (f) => f.subarray(0, f.length - 1), 'truncated', 24 + 58 + 16],
    ['captured > original length', (f) => Object.assign(f.slice(), { [24 + 12]: 41 }), 'badLength', 24 + 8],
  ])('reports %s', (_name, mutate, reason, offset) => {
    const r = readPcap(mutate(validFile()));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.reason).toBe(reason);
    expect(r.error.offset).toBe(offset);
  });

  it('never throws on random or mutated input', () => {
    const valid = validFile();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        readPcap(bytes);
      }),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), fc.nat(valid.length), (edits, cut) => {
        const f = valid.slice(0, cut);
        for (const [i, v] of edits) if (i < f.length) f[i] = v;
        readPcap(f);
      }),
    );
  });
});
