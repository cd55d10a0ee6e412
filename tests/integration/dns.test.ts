/**
 * The lab's DNS server against the real tools: dig from the kernel end for
 * every record type, reverse lookups, NXDOMAIN, EDNS and TC; the forwarder
 * against a real dnsmasq (started by the test in the same namespace, on the
 * kernel end's address, port 5353, so nothing leaves the machine); raw
 * malformed queries from a plain UDP socket.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PYTHON, TAPNET, cleanupTapnet, inNetns, startTapnet, type TapnetProcess } from './harness.js';

const BIG = ['a', 'b', 'c'].map((c) => c.repeat(200)).join(' ');
const RECORDS = [
  'www CNAME gateway',
  '@ MX 10 mail',
  'mail A 10.77.0.25',
  'txt TXT "hello world" "second string" third',
  `big TXT ${BIG}`,
  '_http._tcp SRV 0 5 80 www',
];

describe('DNS on tapnet up', () => {
  let t: TapnetProcess;
  let dnsmasq: ChildProcess | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'tapnet-dns-'));

  /** dig from the kernel end; `+time=2 +tries=1` so a missing answer fails fast. */
  const dig = (...args: string[]): string => {
    const r = inNetns(t.netns, 'dig', ['@10.77.0.1', '+time=2', '+tries=1', ...args]);
    return r.stdout + r.stderr;
  };
  const short = (...args: string[]): string[] => dig('+short', ...args).trim().split('\n').filter(Boolean);
  const section = (out: string, name: string): string[] => {
    const m = new RegExp(`;; ${name} SECTION:\\n([\\s\\S]*?)\\n\\n`).exec(out);
    return m ? m[1]!.split('\n').map((l) => l.replace(/\s+/g, ' ')) : [];
  };
  const stat = (name: string): number => t.stats()[name] ?? 0;

  beforeAll(async () => {
    const args = ['--dns-upstream', '10.77.0.2:5353'];
    for (const r of RECORDS) args.push('--dns-record', r);
    t = await startTapnet({ extraArgs: args });
    // The upstream: dnsmasq authoritative for up.test, on the kernel end's address.
    dnsmasq = spawn(
      'ip',
      [
        'netns', 'exec', t.netns, 'dnsmasq', '--keep-in-foreground', '--conf-file=/dev/null', '--no-resolv', '--no-hosts',
        '--port=5353', '--listen-address=10.77.0.2', '--bind-interfaces', '-u', 'root', `--pid-file=${join(dir, 'dnsmasq.pid')}`,
        '--auth-server=ns.up.test,10.77.0.2', '--auth-zone=up.test', '--host-record=www.up.test,192.0.2.7', '--auth-ttl=300',
        '--log-queries', '--log-facility=-',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    for (let i = 0; i < 50; i++) {
      if (inNetns(t.netns, 'dig', ['@10.77.0.2', '-p', '5353', '+time=1', '+tries=1', '+short', 'www.up.test']).stdout.includes('192.0.2.7')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  });
  afterAll(async () => {
    dnsmasq?.kill('SIGTERM');
    if (t) {
      await t.stop();
      cleanupTapnet(t);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('dig @10.77.0.1 gateway.lab answers, authoritatively', () => {
    const out = dig('gateway.lab');
    expect(out).toMatch(/status: NOERROR/);
    expect(out).toMatch(/flags: qr aa rd ra;/);
    expect(section(out, 'ANSWER')).toEqual(['gateway.lab. 300 IN A 10.77.0.1']);
    expect(short('host.lab')).toEqual(['10.77.0.2']);
  });

  it('every record type: AAAA, CNAME (chased), MX (+ additional), TXT (several strings), NS, SOA, SRV, PTR', () => {
    expect(short('gateway.lab', 'AAAA')).toEqual(['fd77::1']);
    expect(section(dig('www.lab'), 'ANSWER')).toEqual(['www.lab. 300 IN CNAME gateway.lab.', 'gateway.lab. 300 IN A 10.77.0.1']);
    expect(short('www.lab', 'CNAME')).toEqual(['gateway.lab.']);
    const mx = dig('lab', 'MX');
    expect(section(mx, 'ANSWER')).toEqual(['lab. 300 IN MX 10 mail.lab.']);
    expect(section(mx, 'ADDITIONAL')).toEqual(['mail.lab. 300 IN A 10.77.0.25']);
    expect(short('txt.lab', 'TXT')).toEqual(['"hello world" "second string" "third"']);
    expect(short('lab', 'NS')).toEqual(['gateway.lab.']);
    expect(short('lab', 'SOA')[0]).toMatch(/^gateway\.lab\. hostmaster\.lab\. \d+ 3600 600 86400 60$/);
    expect(short('_http._tcp.lab', 'SRV')).toEqual(['0 5 80 www.lab.']);
    expect(short('1.0.77.10.in-addr.arpa', 'PTR')).toEqual(['gateway.lab.']);
  });

  it('reverse lookups (dig -x) from the A and AAAA records', () => {
    expect(short('-x', '10.77.0.1')).toEqual(['gateway.lab.']);
    expect(short('-x', 'fd77::1')).toEqual(['gateway.lab.']);
    expect(short('-x', '10.77.0.2')).toEqual(['host.lab.']);
    expect(short('-x', '10.77.0.25')).toEqual(['mail.lab.']);
    expect(dig('-x', '10.77.0.99')).toMatch(/status: NXDOMAIN/);
  });

  it('NXDOMAIN and NODATA carry the SOA in the authority section', () => {
    const nx = dig('nothere.lab');
    expect(nx).toMatch(/status: NXDOMAIN/);
    expect(section(nx, 'AUTHORITY')[0]).toMatch(/^lab\. 60 IN SOA gateway\.lab\. hostmaster\.lab\./);
    const nodata = dig('host.lab', 'MX');
    expect(nodata).toMatch(/status: NOERROR.*\n.*ANSWER: 0, AUTHORITY: 1/);
    expect(section(nodata, 'AUTHORITY')[0]).toMatch(/SOA/);
  });

  it('answers on tapnet\'s IPv6 address too (dig @fd77::1)', async () => {
    // The kernel end takes its address by SLAAC from tapnet's router advertisements: wait for it.
    for (let i = 0; i < 50 && !inNetns(t.netns, 'ip', ['-6', 'addr', 'show', 'scope', 'global']).stdout.includes('fd77:'); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const r = inNetns(t.netns, 'dig', ['@fd77::1', '+time=2', '+tries=2', 'gateway.lab', 'AAAA']);
    expect(r.stdout).toMatch(/SERVER: fd77::1#53/);
    expect(section(r.stdout, 'ANSWER')).toEqual(['gateway.lab. 300 IN AAAA fd77::1']);
  });

  it('matches names in any case and answers in the case asked', () => {
    expect(section(dig('GaTeWaY.LaB'), 'ANSWER')).toEqual(['GaTeWaY.LaB. 300 IN A 10.77.0.1']);
  });

  it('EDNS: advertises 1232, answers BADVERS to version 1, no OPT to a query without one', () => {
    expect(dig('gateway.lab')).toMatch(/EDNS: version: 0, flags:; udp: 1232/);
    const v1 = dig('+edns=1', '+noednsneg', 'gateway.lab');
    expect(v1).toMatch(/status: BADVERS/);
    const plain = dig('+noedns', 'gateway.lab');
    expect(plain).not.toMatch(/OPT PSEUDOSECTION/);
    expect(section(plain, 'ANSWER')).toEqual(['gateway.lab. 300 IN A 10.77.0.1']);
  });

  it('TC when the answer is over the client\'s size; the whole answer when it fits', () => {
    const noEdns = dig('+noedns', '+ignore', 'big.lab', 'TXT');
    expect(noEdns).toMatch(/flags: qr aa tc rd ra;/);
    expect(noEdns).toMatch(/ANSWER: 0/);
    expect(dig('+bufsize=512', '+ignore', 'big.lab', 'TXT')).toMatch(/flags: qr aa tc rd ra;/);
    const fits = dig('+bufsize=1232', 'big.lab', 'TXT');
    expect(fits).toMatch(/ANSWER: 1,/);
    expect(fits).not.toMatch(/ tc /);
  });

  it('forwards other names to the upstream and caches the answer', () => {
    const out = dig('www.up.test');
    expect(out).toMatch(/flags: qr rd ra;/); // not authoritative for it
    expect(section(out, 'ANSWER')).toEqual(['www.up.test. 300 IN A 192.0.2.7']);
    const queries = stat('dnsFwdQueries');
    const hits = stat('dnsCacheHits');
    expect(short('www.up.test')).toEqual(['192.0.2.7']);
    expect(stat('dnsFwdQueries')).toBe(queries);
    expect(stat('dnsCacheHits')).toBe(hits + 1);
  });

  it('negative answers from the upstream are cached too (RFC 2308)', () => {
    const out = dig('nx.up.test');
    expect(out).toMatch(/status: NXDOMAIN/);
    expect(section(out, 'AUTHORITY')[0]).toMatch(/^up\.test\. \d+ IN SOA/);
    const queries = stat('dnsFwdQueries');
    expect(dig('nx.up.test')).toMatch(/status: NXDOMAIN/);
    expect(stat('dnsFwdQueries')).toBe(queries);
  });

  it('malformed queries get FORMERR or NOTIMP, are counted, and the server answers after', () => {
    // A plain UDP socket in the namespace: each query, then the reply's RCODE and ANCOUNT.
    const script = `
import socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
h = lambda flags, qd=1, an=0, ns=0, ar=0: struct.pack('>HHHHHH', 0xabcd, flags, qd, an, ns, ar)
cases = [
  h(0x0100) + bytes.fromhex('c00c00010001'),                                  # pointer loop
  h(0x0100) + bytes.fromhex('03777777c01400010001'),                          # forward pointer
  h(0x0100, qd=2) + bytes.fromhex('037777770000010001'),                      # QDCOUNT lies
  h(0x0100) + b'\\x40' + b'a' * 64 + bytes.fromhex('0000010001'),             # label of 64
  h(0x0100) + (b'\\x3f' + b'a' * 63) * 4 + bytes.fromhex('0000010001'),       # name over 255
  h(0x0100) + bytes.fromhex('07676174'),                                      # truncated name
  h(0x7900) + bytes.fromhex('0767617465776179036c61620000010001'),             # opcode 15
]
for c in cases:
  s.sendto(c, ('10.77.0.1', 53))
  d = s.recv(2000)
  print(d[3] & 0xf, struct.unpack('>H', d[6:8])[0])
`;
    const before = stat('dnsInFormErrors');
    const r = inNetns(t.netns, PYTHON, ['-c', script]);
    expect(r.stdout.trim().split('\n'), r.stderr).toEqual(['1 0', '1 0', '1 0', '1 0', '1 0', '1 0', '4 0']);
    expect(stat('dnsInFormErrors')).toBe(before + 6);
    expect(short('gateway.lab')).toEqual(['10.77.0.1']);
  });

  it('cookies (RFC 7873): dig +cookie gets a server cookie, and the one it sends back is valid', () => {
    const first = dig('+cookie', 'gateway.lab');
    // dig checks that the response echoes its client cookie and carries a server cookie: "(good)".
    const m = /; COOKIE: ([0-9a-f]{16})([0-9a-f]{32}) \(good\)/.exec(first);
    expect(m, first).not.toBeNull();
    expect(m![2]!.slice(0, 8)).toBe('01000000'); // RFC 9018 §4.2: version 1, reserved 0
    const before = stat('dnsInCookiesValid');
    const again = dig(`+cookie=${m![1]}${m![2]}`, 'gateway.lab');
    expect(again).toMatch(/status: NOERROR/);
    expect(again).toMatch(/; COOKIE: [0-9a-f]{48} \(good\)/);
    expect(stat('dnsInCookiesValid')).toBe(before + 1);
  });

  it('a query with no question and only a cookie gets NOERROR and the server cookie (RFC 7873 §5.4), not FORMERR', () => {
    const out = dig('+cookie', '+header-only');
    expect(out).toMatch(/status: NOERROR/);
    expect(out).toMatch(/QUERY: 0, ANSWER: 0/);
    expect(out).toMatch(/; COOKIE: [0-9a-f]{48} \(good\)/);
  });

  it('CHAOS: version.bind, hostname.bind and id.server TXT are answered "tapnet"', () => {
    for (const name of ['version.bind', 'hostname.bind', 'id.server']) {
      expect(section(dig('CH', 'TXT', name), 'ANSWER'), name).toEqual([`${name}. 0 CH TXT "tapnet"`]);
    }
    expect(dig('CH', 'TXT', 'authors.bind')).toMatch(/status: REFUSED/);
  });

  it('ANY is answered with one RRset (RFC 8482)', () => {
    const out = dig('ANY', 'gateway.lab');
    expect(out).toMatch(/status: NOERROR/);
    expect(section(out, 'ANSWER')).toEqual(['gateway.lab. 300 IN A 10.77.0.1']);
  });

  it('Extended DNS Errors (RFC 8914): REFUSED without recursion, SERVFAIL when the upstream refuses', () => {
    const refused = dig('+norec', 'www.example.org');
    expect(refused).toMatch(/status: REFUSED/);
    expect(refused).toMatch(/; EDE: 20 \(Not Authoritative\): \(not in a local zone and recursion not desired \(RD=0\)\)/);
    // dnsmasq is authoritative for up.test only and refuses other names: SERVFAIL, EDE 22.
    const failed = dig('nowhere.example.org');
    expect(failed).toMatch(/status: SERVFAIL/);
    expect(failed).toMatch(/; EDE: 22 \(No Reachable Authority\): \(upstream 10\.77\.0\.2:5353 answered REFUSED\)/);
  });

  it('tapnet show dns lists the zone and the forwarder', () => {
    const r = t.cli(['show', 'dns']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/gateway\.lab\. 300 IN A 10\.77\.0\.1/);
    expect(r.stdout).toMatch(/1\.0\.77\.10\.in-addr\.arpa\. 300 IN PTR gateway\.lab\. {3}; reverse/);
    expect(r.stdout).toMatch(/upstreams: 10\.77\.0\.2:5353/);
    expect(r.stdout).toMatch(/www\.up\.test\. IN A/);
  });
});

describe('DNS arguments', () => {
  const bad: Array<[string[], RegExp]> = [
    [['--dns-upstream', '10.77.0.2:99999'], /--dns-upstream/],
    [['--dns-upstream', 'dns.example'], /--dns-upstream/],
    [['--dns-record', 'www CNAME'], /--dns-record.*CNAME needs 1 field/],
    [['--dns-record', 'x HINFO a b'], /--dns-record.*unsupported record type/],
    [['--dns-record', 'gateway CNAME host'], /--dns-record.*already has data/],
    [['--dns-record', 'www.example.com. A 1.2.3.4'], /--dns-record.*outside the zones/],
  ];
  for (const [args, pattern] of bad) {
    it(`exits 2 with one line for: up ${args.join(' ')}`, () => {
      const r = spawnSync(process.execPath, [TAPNET, 'up', '--tap', 'tndnsbad', ...args], {
        encoding: 'utf8',
        timeout: 30_000,
        env: { ...process.env, TAPNET_RUN_DIR: tmpdir() },
      });
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(pattern);
    });
  }
});
