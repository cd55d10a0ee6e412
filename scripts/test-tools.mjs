// `npm test`'s first step (package.json "pretest"): are the tools the tests run against here?
//
// The integration tests drive real peers (dig, dhclient, busybox udhcpc, dnsmasq, iperf3, scapy, wireguard-go, ...),
// and no test skips quietly when one is missing. So this checks every one first:
//   - all present: one line, and the tests start;
//   - some missing, running as root on Debian/Ubuntu (apt-get): prints the one apt-get command and runs it;
//   - otherwise: prints that command and exits 1 before any test starts.
// `--install` (used by .ci/run on a fresh machine) installs every package, present or not, in one apt-get run.
// `--list` prints the packages, one per line. TAPNET_TEST_TOOLS_NO_INSTALL=1: never run apt-get, only say what to run.
//
// Each entry: the Debian package, and how to tell it is installed (a command on PATH, a file, or a shell check).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

/** @type {readonly { pkg: string, check: string, why: string }[]} */
export const TOOLS = [
  { pkg: 'iproute2', check: 'ip', why: 'namespaces, links, addresses (every integration test)' },
  { pkg: 'iputils-ping', check: 'ping', why: 'ping, ping -6' },
  { pkg: 'iputils-arping', check: 'arping', why: 'ARP tests' },
  { pkg: 'tcpdump', check: 'tcpdump', why: 'captures in lab tests' },
  { pkg: 'dnsutils', check: 'dig', why: 'DNS tests' },
  { pkg: 'isc-dhcp-client', check: 'dhclient', why: 'DHCP tests' },
  { pkg: 'curl', check: 'curl', why: 'HTTP tests' },
  { pkg: 'nftables', check: 'nft', why: 'loss rules, kernel NAT baselines' },
  { pkg: 'procps', check: 'sysctl', why: 'sysctl, ps' },
  { pkg: 'python3', check: 'python3', why: 'scapy scripts' },
  { pkg: 'python3-scapy', check: "/usr/bin/python3 -c 'import scapy.all'", why: 'crafted and malformed frames' },
  { pkg: 'make', check: 'make', why: 'building the raw-socket addon' },
  { pkg: 'g++', check: 'g++', why: 'building the raw-socket addon' },
  { pkg: 'netcat-openbsd', check: 'nc -h 2>&1 | grep -q -- -N', why: 'nc -N in the small-services tests' },
  { pkg: 'ndisc6', check: 'rdisc6', why: 'router and neighbour discovery tests' },
  { pkg: 'traceroute', check: 'traceroute', why: 'lab tests' },
  { pkg: 'iperf3', check: 'iperf3', why: 'iperf3 server and lab tests' },
  { pkg: 'dnsmasq', check: 'dnsmasq', why: 'DHCP client test peer' },
  { pkg: 'busybox', check: 'busybox', why: 'udhcpc' },
  { pkg: 'kea-admin', check: 'perfdhcp', why: 'DHCP load test' },
  { pkg: 'wireguard-go', check: 'wireguard-go', why: 'WireGuard peer' },
  { pkg: 'wireguard-tools', check: 'wg', why: 'WireGuard peer configuration' },
  { pkg: 'psmisc', check: 'fuser', why: 'lab commands (fuser -k)' },
  { pkg: 'socat', check: 'socat', why: 'services in the VM, Docker and VPC labs' },
  { pkg: 'nmap', check: 'nmap', why: 'the VPC lab\'s port scans' },
  { pkg: 'unbound', check: 'unbound', why: 'the DNS hierarchy lab\'s second resolver' },
  { pkg: 'knot-dnsutils', check: 'kdig', why: 'DNS tests (kdig)' },
  { pkg: 'ethtool', check: 'ethtool', why: 'the VXLAN tests turn off tx checksum offload on the kernel vxlan\'s veth' },
  { pkg: 'bird2', check: 'bird', why: 'BGP peer' },
  { pkg: 'frr', check: '/usr/lib/frr/bgpd', why: 'BGP peer (bgpd)' },
  { pkg: 'chromium', check: 'chromium', why: 'the browser tests of tapnet ui (headless)' },
  { pkg: 'dhcpcd-base', check: 'dhcpcd', why: 'DHCPv6 client test peer' },
];

const PATH = process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin"; // root's, which has the sbin directories
const has = (check) => (check.startsWith('/') && !check.includes(' ') ? existsSync(check) : spawnSync('sh', ['-c', /\s/.test(check) ? check : `command -v ${check}`], { env: { ...process.env, PATH }, stdio: 'ignore' }).status === 0);
const isRoot = typeof process.geteuid === 'function' && process.geteuid() === 0;
const hasApt = spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' }).status === 0;

const APT_ENV = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
const aptArgs = (pkgs) => ['install', '-y', '-q', '--no-install-recommends', ...pkgs];

/** apt-get with its output kept (for the one line that says why it failed). */
function aptQuiet(args) {
  const r = spawnSync('apt-get', args, { encoding: 'utf8', env: APT_ENV });
  return { ok: r.status === 0, lines: `${r.stdout ?? ''}\n${r.stderr ?? ''}`.split('\n').map((l) => l.trim()).filter(Boolean) };
}

/** apt's first complaint, shortened: "E: Unable to locate package dnsutils", "W: Failed to fetch ... Temporary failure resolving ...". */
function aptWhy(lines) {
  const line = lines.find((l) => /^[EW]: .*(fetch|resolv|connect|unreachable)/i.test(l)) ?? lines.find((l) => /^E: /.test(l)) ?? lines.at(-1) ?? 'no output';
  return line.replace(/\s+/g, ' ').slice(0, 160);
}

/**
 * Installs `pkgs` with apt-get, printing the one command it runs. When apt cannot get them (no package lists and
 * no mirror reachable: a container with --network none, an offline machine), one line says so, with the command to
 * run where a mirror is reachable, and the process exits 1 — before apt's own pages of errors.
 */
function aptInstall(pkgs, { update = true } = {}) {
  const args = aptArgs(pkgs);
  const command = `apt-get ${args.join(' ')}`;
  const cannot = (why) => {
    console.error(`tapnet: the tests need ${pkgs.length} Debian package${pkgs.length === 1 ? '' : 's'} and apt-get cannot get them (${why}): run \`apt-get update && ${command}\` where a package mirror is reachable, then npm test again`);
    process.exit(1);
  };
  // A dry run first: are the packages in apt's lists? If not, refresh the lists (quietly), and try once more.
  let sim = aptQuiet(['install', '-s', ...pkgs]);
  if (!sim.ok && update) {
    const up = aptQuiet(['update', '-q']);
    sim = aptQuiet(['install', '-s', ...pkgs]);
    if (!sim.ok) cannot(aptWhy([...up.lines, ...sim.lines])); // apt-get update exits 0 when it could fetch nothing
  } else if (!sim.ok) {
    cannot(aptWhy(sim.lines));
  }
  console.log(`tapnet: installing the tools the tests use: ${command}`);
  const r = spawnSync('apt-get', args, { stdio: 'inherit', env: APT_ENV });
  if (r.status !== 0) {
    console.error(`tapnet: ${command} failed (exit ${r.status ?? r.signal}; apt's output is above): fix that, then run npm test again`);
    process.exit(1);
  }
}

/** raw-socket is optional at `npm install` (no compiler, no raw-socket); the uplink's ICMP tests need it. */
function rawSocketLoads() {
  try {
    createRequire(import.meta.url)('raw-socket');
    return true;
  } catch {
    return false;
  }
}

const mode = process.argv[2];
if (mode === '--list') {
  for (const t of TOOLS) console.log(t.pkg);
} else if (mode === '--install') {
  aptInstall(TOOLS.map((t) => t.pkg), { update: false }); // .ci/run ran apt-get update just before
} else if (mode !== undefined) {
  console.error(`test-tools.mjs: unknown argument ${mode} (use --install or --list)`);
  process.exit(2);
} else {
  const missing = TOOLS.filter((t) => !has(t.check));
  if (missing.length > 0) {
    const pkgs = missing.map((t) => t.pkg);
    if (!isRoot || !hasApt || process.env.TAPNET_TEST_TOOLS_NO_INSTALL === '1') {
      for (const t of missing) console.error(`tapnet: the tests need ${t.pkg} (${t.why})`);
      console.error(`tapnet: install them first: ${isRoot ? '' : 'sudo '}apt-get install -y --no-install-recommends ${pkgs.join(' ')}`);
      process.exit(1);
    }
    aptInstall(pkgs);
  }
  if (!rawSocketLoads()) {
    // npm leaves an optional dependency out when it cannot build it; with the compiler there now, a plain
    // `npm install` builds it (and changes nothing else: the lock file decides).
    console.log('tapnet: the raw-socket addon is missing (npm install had no compiler then): npm install --no-audit --no-fund');
    const r = spawnSync('npm', ['install', '--no-audit', '--no-fund'], { stdio: 'inherit' });
    if (r.status !== 0 || !rawSocketLoads()) {
      console.error('tapnet: the raw-socket addon still does not load; the uplink ICMP tests need it (npm install, with g++ make python3)');
      process.exit(1);
    }
  }
  console.log(`tapnet: the ${TOOLS.length} tools the tests use are installed`);
}
