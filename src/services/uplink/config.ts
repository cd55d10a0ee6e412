/**
 * The `uplink:` field of a router in a lab file:
 *
 *   uplink: true                        # default route out through the host's sockets
 *   uplink: { hostAlias: 10.0.2.2 }     # and 10.0.2.2 means the host itself (127.0.0.1), as in slirp
 *
 * From the plain value (YAML already parsed) to UplinkOptions; problems are
 * returned with the path below the router node, nothing is thrown.
 */
import { parseIpv4 } from '../../l3/ipv4/address.js';
import type { UplinkOptions } from './uplink.js';

export function parseUplinkConfig(raw: unknown): { options?: UplinkOptions; problems: { path: (string | number)[]; message: string }[] } {
  if (raw === false || raw === null || raw === undefined) return { problems: [] };
  if (raw === true) return { options: {}, problems: [] };
  if (typeof raw !== 'object' || Array.isArray(raw)) return { problems: [{ path: ['uplink'], message: 'expected true or { hostAlias: ADDRESS }' }] };
  const problems: { path: (string | number)[]; message: string }[] = [];
  const options: { -readonly [K in keyof UplinkOptions]: UplinkOptions[K] } = {};
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    if (key === 'hostAlias') {
      const address = typeof value === 'string' ? parseIpv4(value) : undefined;
      if (address === undefined) problems.push({ path: ['uplink', key], message: 'expected an IPv4 address (slirp uses 10.0.2.2)' });
      else options.hostAlias = address;
    } else {
      problems.push({ path: ['uplink', key], message: 'unknown field (expected hostAlias)' });
    }
  }
  return { options, problems };
}
