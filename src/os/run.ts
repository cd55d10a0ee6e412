/**
 * Running the host's own tools (`ip`; sysctls are files under /proc/sys) to
 * configure the kernel end of a TAP. This is the only place tapnet shells out; every call is synchronous,
 * happens at start-up or shutdown, never on the packet path, and a failure
 * names the exact command that failed.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';

export class HostCommandError extends Error {}

/** The Debian/Ubuntu package of each tool tapnet runs, for the sentence when one is missing. */
const PACKAGE_OF: Readonly<Record<string, string>> = { ip: 'iproute2', nft: 'nftables' };

/** Runs a command, returns its stdout; throws HostCommandError with the command and stderr. */
export function run(command: string, args: readonly string[]): string {
  const r = spawnSync(command, args, { encoding: 'utf8' });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') {
    const pkg = PACKAGE_OF[command];
    throw new HostCommandError(`\`${command}\` is not installed; tapnet configures the kernel with it${pkg ? ` (Debian/Ubuntu: apt-get install ${pkg})` : ''}`);
  }
  if (r.error) throw new HostCommandError(`${command} ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) {
    throw new HostCommandError(`${command} ${args.join(' ')} failed: ${(r.stderr || r.stdout).trim()}`);
  }
  return r.stdout;
}

/** `ip ARGS`, inside network namespace `netns` when given. */
export function ip(args: readonly string[], netns?: string): string {
  return netns ? run('ip', ['-n', netns, ...args]) : run('ip', args);
}

/**
 * /proc/sys's file for a sysctl key: dots are the separators, except inside the interface name of
 * `net.ipv{4,6}.conf.NAME.LEAF` and `net.ipv{4,6}.neigh.NAME.LEAF` (an interface may be called `eth0.100`).
 */
export function procSysPath(key: string): string {
  const perInterface = /^(net\.ipv[46]\.(?:conf|neigh))\.(.+)\.([a-z0-9_]+)$/.exec(key);
  if (perInterface) return `/proc/sys/${perInterface[1]!.replaceAll('.', '/')}/${perInterface[2]}/${perInterface[3]}`;
  return `/proc/sys/${key.replaceAll('.', '/')}`;
}

/**
 * A sysctl write; `netns` does it inside that namespace. A write to /proc/sys, as `sysctl -w` does, so that a
 * machine without procps works: /proc/sys/net shows the writer's network namespace, so inside one the write is
 * `ip netns exec NS sh -c 'printf ...'` (sh is everywhere).
 */
export function sysctl(key: string, value: string, netns?: string): void {
  const path = procSysPath(key);
  if (netns) {
    run('ip', ['netns', 'exec', netns, 'sh', '-c', 'printf %s "$1" > "$2"', 'sysctl', value, path]);
    return;
  }
  try {
    writeFileSync(path, value);
  } catch (e) {
    throw new HostCommandError(`sysctl ${key}=${value} (${path}): ${(e as Error).message}`);
  }
}

export function netnsExists(name: string): boolean {
  return existsSync(`/var/run/netns/${name}`) || existsSync(`/run/netns/${name}`);
}

/** Creates a namespace with its loopback up. */
export function netnsAdd(name: string): void {
  run('ip', ['netns', 'add', name]);
  ip(['link', 'set', 'lo', 'up'], name);
}

/** Deletes a namespace, ignoring "does not exist". */
export function netnsDelete(name: string): void {
  if (netnsExists(name)) spawnSync('ip', ['netns', 'delete', name]);
}

/**
 * Kills every process inside namespace `name` (`ip netns pids`): a lab's own namespaces only, at lab down, so
 * that a server a learner started there by hand does not outlive its network in a namespace nobody can reach.
 */
export function netnsKillAll(name: string): void {
  if (!netnsExists(name)) return;
  const r = spawnSync('ip', ['netns', 'pids', name], { encoding: 'utf8' });
  for (const pid of r.stdout.split('\n').map(Number).filter((n) => Number.isInteger(n) && n > 1)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
}

export function linkExists(name: string, netns?: string): boolean {
  const args = netns ? ['-n', netns, 'link', 'show', 'dev', name] : ['link', 'show', 'dev', name];
  return spawnSync('ip', args, { stdio: 'ignore' }).status === 0;
}

export { execFileSync };
