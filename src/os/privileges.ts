/**
 * Can this process start tapnet here? Checked once, before start-up, so a user who forgot `sudo`, or the
 * flags of `docker run`, reads one sentence naming what is missing and how to add it, rather than an errno
 * from the middle of setting up.
 *
 * Read first: capabilities(7). A TAP device needs /dev/net/tun and CAP_NET_ADMIN (TUNSETIFF, and moving a
 * link into a namespace); creating a network namespace (`ip netns add`, which mounts under /run/netns)
 * needs CAP_SYS_ADMIN; the kernel end's IPv6 settings are sysctl writes under /proc/sys. The effective set
 * is the CapEff line of /proc/self/status, a hex bitmask.
 *
 * In a container each of these is a `docker run` flag: Docker gives no /dev/net/tun without `--device
 * /dev/net/tun`, drops NET_ADMIN and SYS_ADMIN unless `--cap-add`ed, and mounts /proc/sys read-only unless
 * `--security-opt systempaths=unconfined` (docker/README.md). There the sentence names the flags.
 */
import { existsSync, readFileSync } from 'node:fs';

export const Capability = {
  /** CAP_NET_ADMIN: TAP devices, addresses, routes, moving links between namespaces. */
  netAdmin: { bit: 12, name: 'CAP_NET_ADMIN' },
  /** CAP_SYS_ADMIN: `ip netns add` (a namespace is a bind mount under /run/netns). */
  sysAdmin: { bit: 21, name: 'CAP_SYS_ADMIN' },
} as const;
export type Capability = (typeof Capability)[keyof typeof Capability];

/** The effective capability set from /proc/self/status (undefined when it cannot be read). */
export function effectiveCapabilities(status = readProcStatus()): bigint | undefined {
  const m = status === undefined ? null : /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
  return m ? BigInt(`0x${m[1]}`) : undefined;
}

function readProcStatus(): string | undefined {
  try {
    return readFileSync('/proc/self/status', 'utf8');
  } catch {
    return undefined;
  }
}

/** What a command needs from the machine besides capabilities. */
export interface Needs {
  capabilities: readonly Capability[];
  /** /dev/net/tun (a TAP device). */
  tun?: boolean;
  /** A writable /proc/sys (per-interface IPv6 sysctls). */
  procSys?: boolean;
}

/** What the machine offers, as far as the checks below ask. */
export interface Environment {
  /** undefined when /proc/self/status cannot be read: then the kernel's own error will speak. */
  capabilities: bigint | undefined;
  tun: boolean;
  procSysReadOnly: boolean;
  /** Inside a Docker (/.dockerenv) or Podman (/run/.containerenv) container. */
  container: boolean;
  root: boolean;
}

export function probeEnvironment(): Environment {
  return {
    capabilities: effectiveCapabilities(),
    tun: existsSync('/dev/net/tun'),
    procSysReadOnly: mountedReadOnly('/proc/sys/net', readMountInfo()),
    container: existsSync('/.dockerenv') || existsSync('/run/.containerenv'),
    root: typeof process.geteuid === 'function' && process.geteuid() === 0,
  };
}

function readMountInfo(): string | undefined {
  try {
    return readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * Is `path` on a read-only mount, by /proc/self/mountinfo (proc(5): field 5 the mount point, field 6 the
 * per-mount options)? The deepest mount point containing the path wins, the later of equal ones (stacked
 * mounts). Docker's /proc/sys is such a read-only bind mount; access(2) cannot tell, as procfs answers
 * EACCES before the mount is looked at.
 */
export function mountedReadOnly(path: string, mountInfo: string | undefined): boolean {
  let best: { point: string; readOnly: boolean } | undefined;
  for (const line of (mountInfo ?? '').split('\n')) {
    const fields = line.split(' ');
    if (fields.length < 6) continue;
    const point = fields[4]!.replace(/\\040/g, ' ');
    const inside = point === '/' || path === point || path.startsWith(`${point}/`);
    if (!inside || (best && point.length < best.point.length)) continue;
    best = { point, readOnly: fields[5]!.split(',').includes('ro') };
  }
  return best?.readOnly ?? false;
}

interface Problem {
  /** What is missing, as the sentence names it. */
  missing: string;
  /** The `docker run` flag that adds it. */
  dockerFlag: string;
  /** Outside a container: how to get it. */
  fix: string;
}

/**
 * The one line to print when `needs` are not all met, naming what is missing and how to add it
 * (the `docker run` flags in a container); undefined when they are.
 */
export function startProblem(needs: Needs, what: string, env: Environment = probeEnvironment()): string | undefined {
  const problems: Problem[] = [];
  if (needs.tun && !env.tun) problems.push({ missing: '/dev/net/tun', dockerFlag: '--device /dev/net/tun', fix: 'load the tun module (modprobe tun)' });
  if (env.capabilities !== undefined) {
    for (const c of needs.capabilities) {
      if ((env.capabilities & (1n << BigInt(c.bit))) !== 0n) continue;
      problems.push({
        missing: c.name,
        dockerFlag: `--cap-add ${c.name.replace(/^CAP_/, '')}`,
        fix: env.root ? 'this root process lacks it (a container or a service without the capability?)' : 'run it as root (sudo), or grant the capability',
      });
    }
  }
  if (needs.procSys && env.procSysReadOnly) {
    problems.push({ missing: 'a writable /proc/sys (IPv6 sysctls)', dockerFlag: '--security-opt systempaths=unconfined', fix: 'remount /proc/sys read-write' });
  }
  if (problems.length === 0) return undefined;
  const missing = problems.map((p) => p.missing).join(' and ');
  if (env.container) return `${what} needs ${missing}: add ${problems.map((p) => p.dockerFlag).join(' ')} to docker run`;
  return `${what} needs ${missing}: ${[...new Set(problems.map((p) => p.fix))].join('; ')}`;
}

/**
 * The sentence to print when `needs` (capabilities only) are not all held; undefined when they are (or
 * when the set cannot be read).
 */
export function missingPrivileges(needs: readonly Capability[], what: string, capabilities = effectiveCapabilities()): string | undefined {
  const root = typeof process.geteuid === 'function' && process.geteuid() === 0;
  return startProblem({ capabilities: needs }, what, { capabilities, tun: true, procSysReadOnly: false, container: false, root });
}
