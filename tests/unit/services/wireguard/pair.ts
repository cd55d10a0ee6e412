/**
 * Two tapnet hosts on one in-memory link (tests/unit/two-hosts.ts), each
 * with a WireGuard interface wg0 peered with the other: A is 10.9.0.1 and
 * fd09::1, B is 10.9.0.2 and fd09::2, the tunnel runs over UDP between
 * 10.0.0.1:51820 and 10.0.0.2:51820. Shares the manual clock.
 */
import { parseIpv4Cidr } from '../../../../src/l3/ipv4/address.js';
import { parseIpv6Cidr } from '../../../../src/l3/ipv6/address.js';
import { generateStaticKey } from '../../../../src/services/wireguard/crypto.js';
import { WireGuardInterface, type WireGuardOptions } from '../../../../src/services/wireguard/wireguard.js';
import type { PeerConfig } from '../../../../src/services/wireguard/peer.js';
import { twoHosts } from '../../two-hosts.js';

export const WALL_EPOCH_MS = Date.UTC(2026, 0, 1);

export function wgPair(options: { a?: Partial<PeerConfig>; b?: Partial<PeerConfig>; wg?: WireGuardOptions; wgB?: WireGuardOptions; presharedKey?: Uint8Array } = {}) {
  const hosts = twoHosts({ ipv6: true });
  const keyA = generateStaticKey();
  const keyB = generateStaticKey();
  const wallClock = (): number => WALL_EPOCH_MS + hosts.ctxA.clock.now();
  const v4 = (t: string) => parseIpv4Cidr(t)!;
  const v6 = (t: string) => parseIpv6Cidr(t)!;
  const wgA = new WireGuardInterface(
    hosts.a,
    {
      name: 'wg0',
      privateKey: keyA.privateKey,
      listenPort: 51820,
      ipv4: [v4('10.9.0.1/24')],
      ipv6: [v6('fd09::1/64')],
      peers: [{ publicKey: keyB.publicKey, presharedKey: options.presharedKey, endpoint: { address: '10.0.0.2', port: 51820, family: 4 }, allowedIps4: [v4('10.9.0.2/32')], allowedIps6: [v6('fd09::2/128')], ...options.a }],
    },
    { wallClock, ...options.wg },
  );
  const wgB = new WireGuardInterface(
    hosts.b,
    {
      name: 'wg0',
      privateKey: keyB.privateKey,
      listenPort: 51820,
      ipv4: [v4('10.9.0.2/24')],
      ipv6: [v6('fd09::2/64')],
      peers: [{ publicKey: keyA.publicKey, presharedKey: options.presharedKey, endpoint: { address: '10.0.0.1', port: 51820, family: 4 }, allowedIps4: [v4('10.9.0.1/32')], allowedIps6: [v6('fd09::1/128')], ...options.b }],
    },
    { wallClock, ...(options.wgB ?? options.wg) },
  );
  return { ...hosts, wgA, wgB, keyA, keyB };
}
