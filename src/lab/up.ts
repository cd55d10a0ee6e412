/**
 * `tapnet up`: the default lab. One TAP; tapnet is .1 of the subnet, the
 * kernel end is .2 (in the host namespace, or in --netns NS).
 *
 * Order matters: everything we create is recorded in `cleanup` as soon as it
 * exists, so a failure half-way (or SIGINT) removes exactly what we made.
 */
import { createHash } from 'node:crypto';
import { createContext } from '../core/context.js';
import { RealTimeDriver } from '../core/time.js';
import { createLogger, type LogLevel } from '../core/trace.js';
import { PcapWriter } from '../core/pcap.js';
import { capture } from '../device/pcap-device.js';
import { openTap } from '../device/tap.js';
import type { Device } from '../device/device.js';
import { formatIpv4, formatIpv4Cidr, networkOf, parseIpv4, type Ipv4Cidr } from '../l3/ipv4/address.js';
import { Host } from '../stack.js';
import { controlSocketAlive, controlSocketPath, startControlServer } from '../control.js';
import { ip, netnsAdd, netnsDelete, netnsExists, sysctl } from '../host/run.js';
import { rmSync } from 'node:fs';

export interface UpOptions {
  readonly tap: string;
  readonly subnet: Ipv4Cidr;
  readonly netns?: string;
  /** Give the kernel end the .2 address (default true). */
  readonly hostAddress: boolean;
  readonly pcap?: string;
  readonly logLevel: LogLevel;
}

/** A stable, locally administered MAC derived from the TAP name, so ARP caches survive restarts. */
export function macForName(name: string): number {
  const h = createHash('sha256').update(`tapnet:${name}`).digest();
  return 0x02_0000000000 + h.readUIntBE(0, 5) % 0x10000000000;
}

export interface RunningLab {
  readonly host: Host;
  readonly device: Device;
  stop(): Promise<void>;
}

/** Starts the default lab; resolves once it serves. Used by the CLI and by tests. */
export async function startUp(options: UpOptions): Promise<RunningLab> {
  const log = createLogger(options.logLevel);
  const socketPath = controlSocketPath(options.tap);
  if (await controlSocketAlive(socketPath)) {
    throw new Error(`TAP ${options.tap} is in use by another tapnet (control socket ${socketPath} answers)`);
  }

  const cleanup: Array<() => void> = [];
  const undo = (): void => {
    while (cleanup.length) {
      try {
        cleanup.pop()!();
      } catch (e) {
        log.warn(`cleanup: ${(e as Error).message}`);
      }
    }
  };

  try {
    const network = networkOf(options.subnet);
    const tapnetAddress = (network + 1) >>> 0;
    const kernelAddress = (network + 2) >>> 0;
    const prefix = options.subnet.prefixLength;

    const tap = openTap({ name: options.tap });
    cleanup.push(() => tap.close());

    const ns = options.netns;
    if (ns) {
      if (!netnsExists(ns)) {
        netnsAdd(ns);
        cleanup.push(() => netnsDelete(ns));
      }
      ip(['link', 'set', tap.name, 'netns', ns]);
    }
    // tapnet speaks IPv4 only so far: keep the kernel end from sending IPv6 DAD/MLD/RS noise.
    sysctl(`net.ipv6.conf.${tap.name}.disable_ipv6`, '1', ns);
    if (options.hostAddress) ip(['addr', 'add', `${formatIpv4(kernelAddress)}/${prefix}`, 'dev', tap.name], ns);
    ip(['link', 'set', tap.name, 'up'], ns);

    let device: Device = tap;
    if (options.pcap) {
      const writer = new PcapWriter(options.pcap);
      cleanup.push(() => writer.close());
      device = capture(tap, writer);
    }

    const ctx = createContext({ log });
    const driver = new RealTimeDriver(ctx.timers);
    cleanup.push(() => driver.stop());
    const host = new Host(ctx);
    host.addInterface(device, { name: tap.name, mac: macForName(tap.name), ipv4: [{ address: tapnetAddress, prefixLength: prefix }] });
    host.start();

    const server = await startControlServer(socketPath, (request) => handleControl(host, request.command, request.args ?? []));
    cleanup.push(() => {
      server.close();
      rmSync(socketPath, { force: true });
    });

    let stopped = false;
    const stop = async (): Promise<void> => {
      if (stopped) return;
      stopped = true;
      undo();
    };
    tap.onClose((reason) => {
      if (stopped) return;
      log.error(`TAP ${tap.name} went away (${reason}); stopping`);
      void stop().then(() => process.exit(1));
    });

    log.info(
      {
        tap: tap.name,
        netns: ns,
        tapnet: formatIpv4Cidr({ address: tapnetAddress, prefixLength: prefix }),
        kernel: options.hostAddress ? formatIpv4(kernelAddress) : undefined,
        control: socketPath,
      },
      `tapnet ready on ${tap.name}: ping ${formatIpv4(tapnetAddress)}${ns ? ` (from netns ${ns})` : ''}`,
    );
    return { host, device, stop };
  } catch (e) {
    undo();
    throw e;
  }
}

/** `tapnet up` from the CLI: start, then stop cleanly on SIGINT/SIGTERM with exit code 0. */
export async function runUp(options: UpOptions): Promise<void> {
  const lab = await startUp(options);
  const onSignal = (): void => {
    void lab.stop().then(() => process.exit(0));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
}

async function handleControl(host: Host, command: string, args: readonly string[]): Promise<unknown> {
  switch (command) {
    case 'show':
      if (args[0] === 'stats' && args[1] === 'json') return host.ctx.stats.snapshot();
      return host.show(args[0] ?? 'stats');
    case 'ping': {
      const target = parseIpv4(args[0] ?? '');
      if (target === undefined) throw new Error(`invalid address '${args[0]}'`);
      const count = Math.min(Math.max(Number(args[1] ?? 3) || 3, 1), 1000);
      const replies = await host.ping(target, { count, intervalMs: 200, timeoutMs: 2000 });
      let out = `PING ${formatIpv4(target)} from tapnet\n`;
      for (const r of replies) {
        out += r.rttMs === undefined ? `no reply for icmp_seq=${r.sequence}\n` : `reply from ${formatIpv4(target)}: icmp_seq=${r.sequence} time=${r.rttMs.toFixed(3)} ms\n`;
      }
      const received = replies.filter((r) => r.rttMs !== undefined).length;
      out += `${count} packets transmitted, ${received} received, ${Math.round(((count - received) / count) * 100)}% packet loss\n`;
      return out;
    }
    default:
      throw new Error(`unknown command '${command}'`);
  }
}
