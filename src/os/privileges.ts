/**
 * Does this process hold the capabilities tapnet needs? Checked once, before
 * start-up, so a user who forgot `sudo` reads a sentence naming what is
 * missing rather than an errno from the middle of setting up.
 *
 * Read first: capabilities(7). A TAP device needs CAP_NET_ADMIN (TUNSETIFF,
 * and moving a link into a namespace); creating a network namespace
 * (`ip netns add`, which mounts under /run/netns) needs CAP_SYS_ADMIN. The
 * effective set is the CapEff line of /proc/self/status, a hex bitmask.
 */
import { readFileSync } from 'node:fs';

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

/**
 * The sentence to print when `needs` are not all held, naming what and why;
 * undefined when they are (or when the set cannot be read: then the kernel's
 * own error will speak).
 */
export function missingPrivileges(needs: readonly Capability[], what: string, capabilities = effectiveCapabilities()): string | undefined {
  if (capabilities === undefined) return undefined;
  const missing = needs.filter((c) => (capabilities & (1n << BigInt(c.bit))) === 0n);
  if (missing.length === 0) return undefined;
  const root = typeof process.geteuid === 'function' && process.geteuid() === 0;
  return `${what} needs ${missing.map((c) => c.name).join(' and ')}${root ? ' (this root process lacks it: a container without --cap-add?)' : ': run it as root (sudo), or grant the capability'}`;
}
