/** The lease pool (RFC 2131 §4.3.1 address choice) and the lease file (atomic replace, never corrupted). */
import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { formatIpv4, parseIpv4 } from '../../../../src/l3/ipv4/address.js';
import {
  LeasePool,
  clientIdentity,
  formatLeaseFile,
  nodeFs,
  parseLeaseFile,
  readLeaseFile,
  sanitizeHostname,
  tempPathFor,
  writeFileAtomic,
  type AtomicFs,
  type LeaseRecord,
} from '../../../../src/services/dhcp/lease-store.js';

const ip = (s: string): number => parseIpv4(s)!;
const subnet = { address: ip('10.0.0.0'), prefixLength: 24 };
const who = (n: number) => clientIdentity(0x02_00_00_00_00_00 + n, undefined);

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'tapnet-leases-'));
  dirs.push(d);
  return d;
}

describe('LeasePool: which address a client gets (RFC 2131 §4.3.1)', () => {
  const pool = () => new LeasePool({ subnet, first: ip('10.0.0.10'), last: ip('10.0.0.14'), reserved: [ip('10.0.0.11')] });

  it('current binding, then previous binding, then the requested address, then a fresh one', () => {
    const p = pool();
    const a = who(1);
    p.bind(a, ip('10.0.0.12'), undefined, 0, 1000);
    expect(formatIpv4(p.choose(a.key, a.mac, ip('10.0.0.14'), 10)!)).toBe('10.0.0.12'); // current
    p.release(p.at(ip('10.0.0.12'))!, 20);
    expect(formatIpv4(p.choose(a.key, a.mac, ip('10.0.0.14'), 30)!)).toBe('10.0.0.12'); // previous, still free
    const b = who(2);
    expect(formatIpv4(p.choose(b.key, b.mac, ip('10.0.0.14'), 30)!)).toBe('10.0.0.14'); // requested
    // a's released address is "not already allocated", so b may ask for it; a then gets a fresh one.
    expect(formatIpv4(p.choose(b.key, b.mac, ip('10.0.0.12'), 30)!)).toBe('10.0.0.12');
    p.bind(b, ip('10.0.0.12'), undefined, 40, 1000);
    expect(formatIpv4(p.choose(a.key, a.mac, undefined, 50)!)).toBe('10.0.0.10');
    const c = who(3);
    expect(p.choose(c.key, c.mac, ip('10.0.0.11'), 60)).toBe(ip('10.0.0.10')); // reserved is never given
  });

  it('reuses the address left alone longest once no fresh one is left, and reports exhaustion', () => {
    const p = pool();
    const addresses = ['10.0.0.10', '10.0.0.12', '10.0.0.13', '10.0.0.14'];
    addresses.forEach((a, i) => p.bind(who(i), ip(a), undefined, i, 100));
    const stranger = who(9);
    expect(p.choose(stranger.key, stranger.mac, undefined, 50)).toBeUndefined();
    // Expired at 100-103: the oldest change wins.
    p.expire(200);
    p.release(p.at(ip('10.0.0.10'))!, 300); // touched later than the others
    expect(formatIpv4(p.choose(stranger.key, stranger.mac, undefined, 400)!)).toBe('10.0.0.12');
  });

  it('an offer holds its address until it lapses; a client moving to another offer frees the first', () => {
    const p = pool();
    const a = who(1);
    const b = who(2);
    p.offer(a, ip('10.0.0.10'), 0, 60_000);
    expect(p.availableTo(ip('10.0.0.10'), b.key, b.mac, 59_999)).toBe(false);
    expect(p.availableTo(ip('10.0.0.10'), b.key, b.mac, 60_000)).toBe(true);
    p.offer(a, ip('10.0.0.12'), 1, 60_000);
    expect(p.availableTo(ip('10.0.0.10'), b.key, b.mac, 2)).toBe(true);
    expect(p.activeCount(2)).toBe(1);
  });

  it('a DECLINEd address is out until its probation ends and belongs to no client', () => {
    const p = pool();
    const a = who(1);
    const { lease } = p.bind(a, ip('10.0.0.10'), 'x', 0, 1000);
    p.decline(lease, 10, 5000);
    expect(p.findClient(a.key)).toBeUndefined();
    expect(p.choose(a.key, a.mac, ip('10.0.0.10'), 20)).toBe(ip('10.0.0.12'));
    expect(p.availableTo(ip('10.0.0.10'), a.key, a.mac, 5010)).toBe(true);
  });

  it('static leases: fixed per MAC, reserved from everyone else, and must be in the subnet', () => {
    const p = new LeasePool({ subnet, first: ip('10.0.0.10'), last: ip('10.0.0.14'), staticLeases: [{ mac: 0x02_00_00_00_00_05, address: ip('10.0.0.12') }] });
    const owner = who(5);
    expect(formatIpv4(p.choose(owner.key, owner.mac, ip('10.0.0.14'), 0)!)).toBe('10.0.0.12');
    const other = who(6);
    expect(p.availableTo(ip('10.0.0.12'), other.key, other.mac, 0)).toBe(false);
    expect(() => new LeasePool({ subnet, first: ip('10.0.0.10'), last: ip('10.0.0.14'), staticLeases: [{ mac: 1, address: ip('10.9.0.1') }] })).toThrow(/subnet/);
    expect(() => new LeasePool({ subnet, first: ip('10.0.0.10'), last: ip('10.0.1.14') })).toThrow(/not inside/);
  });

  it('binding a new address releases the client\'s old binding and says so', () => {
    const p = pool();
    const a = who(1);
    p.bind(a, ip('10.0.0.10'), undefined, 0, 1000);
    const { replaced } = p.bind(a, ip('10.0.0.12'), undefined, 5, 1000);
    expect(replaced && formatIpv4(replaced.address)).toBe('10.0.0.10');
    expect(p.at(ip('10.0.0.10'))!.state).toBe('released');
    expect(p.nextExpiry()).toBe(1005);
  });

  it('keys clients by option 61 when present, else by chaddr (RFC 2131 §4.2)', () => {
    expect(clientIdentity(0x02_00_00_00_00_01, undefined).key).toBe('hw:020000000001');
    expect(clientIdentity(0x02_00_00_00_00_01, Uint8Array.of(1, 2, 0, 0, 0, 0, 1)).key).toBe('id:01020000000001');
  });
});

describe('lease file format', () => {
  const records: LeaseRecord[] = [
    { expiresUnixSeconds: 1_700_003_600, mac: 0x02_00_00_00_00_01, address: ip('10.77.0.100'), hostname: 'laptop', clientId: '01020000000001' },
    { expiresUnixSeconds: 1_700_000_120, mac: 0x02_00_00_00_00_02, address: ip('10.77.0.101'), hostname: undefined, clientId: undefined },
  ];

  it('writes dnsmasq-style lines and reads them back', () => {
    const text = formatLeaseFile(records);
    expect(text.split('\n').slice(1)).toEqual([
      '1700003600 02:00:00:00:00:01 10.77.0.100 laptop 01020000000001',
      '1700000120 02:00:00:00:00:02 10.77.0.101 * *',
      '',
    ]);
    expect(parseLeaseFile(text)).toEqual({ records, errors: [] });
  });

  it('skips a bad line with its number and keeps the others', () => {
    const text = `${formatLeaseFile(records)}garbage here\n1700000000 02:00:00:00:00:03 10.77.0.300 x *\n1700000000 zz 10.77.0.3 x *\n`;
    const { records: got, errors } = parseLeaseFile(text);
    expect(got).toHaveLength(2);
    expect(errors).toEqual([
      { line: 4, reason: '2 fields, expected 5' },
      { line: 5, reason: "bad address '10.77.0.300'" },
      { line: 6, reason: "bad MAC 'zz'" },
    ]);
  });

  it('never throws on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), (text) => {
        const r = parseLeaseFile(text);
        return Array.isArray(r.records) && Array.isArray(r.errors);
      }),
    );
  });

  it('turns option 12 into a DNS label or nothing', () => {
    expect(sanitizeHostname('My_Laptop.example.com')).toBe('mylaptop');
    expect(sanitizeHostname('-web-01-')).toBe('web-01');
    expect(sanitizeHostname('a'.repeat(80))).toBe('a'.repeat(63));
    expect(sanitizeHostname('ünïcødé')).toBe('ncd');
    expect(sanitizeHostname('___')).toBeUndefined();
    expect(sanitizeHostname('')).toBeUndefined();
    expect(sanitizeHostname(undefined)).toBeUndefined();
  });
});

describe('atomic lease file writes', () => {
  it('replaces the file and leaves no temporary file behind', () => {
    const path = join(tempDir(), 'leases');
    writeFileAtomic(path, 'one\n');
    writeFileAtomic(path, 'two\n');
    expect(readFileSync(path, 'utf8')).toBe('two\n');
    expect(existsSync(tempPathFor(path))).toBe(false);
  });

  it('a crash at any step of the write leaves the old file whole', () => {
    const path = join(tempDir(), 'leases');
    const old = formatLeaseFile([{ expiresUnixSeconds: 1, mac: 2, address: ip('10.0.0.100'), hostname: 'old', clientId: undefined }]);
    writeFileAtomic(path, old);
    const steps: (keyof AtomicFs)[] = ['openSync', 'writeSync', 'fsyncSync', 'renameSync'];
    for (const step of steps) {
      let writes = 0;
      const crashing: AtomicFs = {
        ...nodeFs,
        [step]: (...args: unknown[]) => {
          if (step === 'writeSync' && writes++ === 0) {
            // Half the bytes reach the temp file, then the "power fails".
            const [fd, data, offset, length] = args as [number, Uint8Array, number, number];
            nodeFs.writeSync(fd, data, offset, Math.floor(length / 2));
          }
          throw new Error(`simulated crash in ${step}`);
        },
      };
      expect(() => writeFileAtomic(path, 'x'.repeat(10_000), crashing)).toThrow(`simulated crash in ${step}`);
      expect(readFileSync(path, 'utf8')).toBe(old);
      expect(readLeaseFile(path).records).toHaveLength(1);
    }
    // A leftover temp file from the crash is ignored by the reader and overwritten by the next write.
    writeFileSync(tempPathFor(path), 'half a lea');
    expect(readLeaseFile(path).records[0]!.hostname).toBe('old');
    writeFileAtomic(path, 'new\n');
    expect(readFileSync(path, 'utf8')).toBe('new\n');
  });

  it('readers never see a torn file while a process rewrites it, nor after it is killed (SIGKILL) mid-write', async () => {
    const dir = tempDir();
    const path = join(dir, 'leases');
    // The child rewrites a 2000-lease file as fast as it can; every version is complete and self-consistent.
    const script = `
      import { formatLeaseFile, writeFileAtomic } from ${JSON.stringify(resolve('src/services/dhcp/lease-store.ts'))};
      const path = ${JSON.stringify(path)};
      const records = [];
      for (let i = 0; i < 2000; i++) records.push({ expiresUnixSeconds: 1, mac: 0x020000000000 + i, address: 0x0a000000 + i, hostname: 'hVERSION', clientId: undefined });
      const template = formatLeaseFile(records);
      for (let version = 1; ; version++) {
        writeFileAtomic(path, template.replaceAll('VERSION', String(version)));
        if (version === 3) process.stdout.write('writing\\n');
      }`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      await new Promise<void>((ok, fail) => {
        child.stdout.on('data', () => ok());
        child.on('exit', () => fail(new Error(`writer exited early: ${stderr}`)));
      });
      const whole = (): void => {
        const { records, errors } = readLeaseFile(path);
        expect(errors).toEqual([]);
        expect(records).toHaveLength(2000);
        expect(new Set(records.map((r) => r.hostname)).size).toBe(1); // one version, not a mix
      };
      // Real time on purpose: another process is writing, and the reads must land at arbitrary points of real writes.
      // At least 300 ms and at least 20 reads, however slow a loaded machine makes each one.
      const until = Date.now() + 300;
      for (let reads = 0; reads < 20 || Date.now() < until; reads++) whole();
      child.kill('SIGKILL');
      await new Promise((r) => child.on('exit', r));
      whole();
    } finally {
      child.kill('SIGKILL');
    }
  });
});
