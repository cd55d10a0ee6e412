/**
 * `tapnet show wg`, laid out like `wg show` (wireguard-tools src/show.c
 * pretty_print): the interface, then one block per peer with its endpoint,
 * allowed IPs, latest handshake, transfer and persistent keepalive.
 */
import { formatIpv4Cidr } from '../../l3/ipv4/address.js';
import { formatIpv6Cidr } from '../../l3/ipv6/address.js';
import { formatKey } from './keys.js';
import { formatEndpoint, type Peer } from './peer.js';

export interface ShownPeer {
  readonly publicKey: string;
  readonly presharedKey: boolean;
  readonly endpoint: string | undefined;
  readonly allowedIps: readonly string[];
  /** Wall-clock ms, 0 for never. */
  readonly latestHandshakeMs: number;
  readonly rxBytes: number;
  readonly txBytes: number;
  readonly persistentKeepalive: number;
}

export interface ShownInterface {
  readonly name: string;
  readonly publicKey: string;
  readonly listenPort: number;
  readonly now: number;
  readonly peers: readonly ShownPeer[];
}

/** "1 minute, 5 seconds" as wg prints durations (show.c ago()). */
export function formatAgo(seconds: number): string {
  if (seconds <= 0) return 'Now';
  const parts: string[] = [];
  const units: [number, string][] = [
    [365 * 24 * 3600, 'year'],
    [24 * 3600, 'day'],
    [3600, 'hour'],
    [60, 'minute'],
    [1, 'second'],
  ];
  let left = seconds;
  for (const [size, name] of units) {
    const n = Math.floor(left / size);
    left -= n * size;
    if (n > 0) parts.push(`${n} ${name}${n === 1 ? '' : 's'}`);
  }
  return `${parts.join(', ')} ago`;
}

/** "1.23 KiB" as wg prints byte counts (show.c bytes()). */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(2)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(2)} MiB`;
  if (bytes < 1024 ** 4) return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
  return `${(bytes / 1024 ** 4).toFixed(2)} TiB`;
}

export function showInterface(i: ShownInterface): string {
  let out = `interface: ${i.name}\n  public key: ${i.publicKey}\n  private key: (hidden)\n  listening port: ${i.listenPort}\n`;
  // wg sorts peers by latest handshake, newest first.
  const peers = [...i.peers].sort((a, b) => b.latestHandshakeMs - a.latestHandshakeMs);
  for (const p of peers) {
    out += `\npeer: ${p.publicKey}\n`;
    if (p.presharedKey) out += '  preshared key: (hidden)\n';
    if (p.endpoint) out += `  endpoint: ${p.endpoint}\n`;
    out += `  allowed ips: ${p.allowedIps.length > 0 ? p.allowedIps.join(', ') : '(none)'}\n`;
    if (p.latestHandshakeMs > 0) out += `  latest handshake: ${formatAgo(Math.floor((i.now - p.latestHandshakeMs) / 1000))}\n`;
    if (p.rxBytes > 0 || p.txBytes > 0) out += `  transfer: ${formatBytes(p.rxBytes)} received, ${formatBytes(p.txBytes)} sent\n`;
    if (p.persistentKeepalive > 0) out += `  persistent keepalive: every ${formatAgo(p.persistentKeepalive).replace(/ ago$/, '')}\n`;
  }
  return out;
}

/** The interface's state as `wg show` prints it; `now` is wall-clock ms. */
export function showWireGuard(wg: { name: string; publicKey: Uint8Array; listenPort: number; peers: readonly Peer[] }, now: number): string {
  return showInterface({
    name: wg.name,
    publicKey: formatKey(wg.publicKey),
    listenPort: wg.listenPort,
    now,
    peers: wg.peers.map((p) => ({
      publicKey: formatKey(p.publicKey),
      presharedKey: p.presharedKey !== undefined,
      endpoint: p.endpoint ? formatEndpoint(p.endpoint) : undefined,
      allowedIps: [...p.allowedIps4.map(formatIpv4Cidr), ...p.allowedIps6.map(formatIpv6Cidr)],
      latestHandshakeMs: p.lastHandshakeWallMs,
      rxBytes: p.rxBytes,
      txBytes: p.txBytes,
      persistentKeepalive: p.persistentKeepalive,
    })),
  });
}
