/**
 * wireguard-go and wg(8) in a lab host's namespace: the road-warrior laptop
 * of labs/vpn.yaml runs the real userspace WireGuard, configured by the real
 * `wg setconf`, so the tunnel to tapnet is an interoperation test every time
 * the lab starts.
 *
 * wireguard-go keeps its control socket at /var/run/wireguard/NAME.sock, in
 * the file system every namespace shares: NAME must be unique on the machine
 * (the lab file checker insists they differ within a lab; this refuses a
 * name whose socket answers already).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostCommandError, run } from './run.js';

export const WIREGUARD_RUN_DIR = '/var/run/wireguard';
/** How long wireguard-go may take to create its TUN device and socket. */
const START_TIMEOUT_MS = 5000;

export interface WireGuardGo {
  readonly name: string;
  readonly child: ChildProcess;
  /** Kills wireguard-go (its interface goes with it) and removes its socket. */
  stop(): void;
}

export function wireguardSocket(name: string): string {
  return join(WIREGUARD_RUN_DIR, `${name}.sock`);
}

/** Starts `wireguard-go -f NAME` inside `netns` and waits for its control socket. */
export async function startWireGuardGo(netns: string, name: string): Promise<WireGuardGo> {
  if (existsSync(wireguardSocket(name)) && run('wg', ['show', 'interfaces']).split(/\s+/).includes(name)) {
    throw new HostCommandError(`a WireGuard interface ${name} already runs on this machine (${wireguardSocket(name)}): pick another name`);
  }
  rmSync(wireguardSocket(name), { force: true });
  const child = spawn('ip', ['netns', 'exec', netns, 'wireguard-go', '-f', name], {
    env: { ...process.env, WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD: '1', LOG_LEVEL: 'error' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const stop = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    rmSync(wireguardSocket(name), { force: true });
  };
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!existsSync(wireguardSocket(name))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      stop();
      throw new HostCommandError(`wireguard-go ${name} in ${netns} did not start: ${stderr.trim() || 'no control socket'}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return { name, child, stop };
}

/** `wg setconf NAME FILE` with `config` (wg(8) format: no Address, MTU or DNS; those are wg-quick's). */
export function wgSetconf(netns: string, name: string, config: string): void {
  const dir = mkdtempSync(join(tmpdir(), 'tapnet-wg-'));
  try {
    const file = join(dir, `${name}.conf`);
    writeFileSync(file, config, { mode: 0o600 });
    run('ip', ['netns', 'exec', netns, 'wg', 'setconf', name, file]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
