/**
 * The `uplink:` field of a router in a lab file:
 *
 *   uplink: true                        # default route out through the host's sockets
 *   uplink: { hostAlias: 10.0.2.2 }     # and 10.0.2.2 means the host itself (127.0.0.1), as in slirp
 *
 * A zod schema from the plain value (YAML already parsed) to UplinkOptions,
 * or undefined for `false`; the lab file's checker (src/runtime/topology.ts)
 * reports its problems with their line.
 */
import { z } from 'zod';
import { parseIpv4 } from '../../l3/ipv4/address.js';
import type { UplinkOptions } from './uplink.js';

const hostAlias = z.string().transform((text, ctx) => {
  const address = parseIpv4(text);
  if (address === undefined) ctx.addIssue({ code: 'custom', message: 'expected an IPv4 address (slirp uses 10.0.2.2)' });
  return address ?? 0;
});

export const uplinkSchema: z.ZodType<UplinkOptions | undefined, unknown> = z.union(
  [
    z.boolean().transform((on): UplinkOptions | undefined => (on ? {} : undefined)),
    z.null().transform(() => undefined),
    z.strictObject({ hostAlias: hostAlias.optional() }, { error: (issue) => (issue.code === 'unrecognized_keys' ? 'unknown field (expected hostAlias)' : undefined) }),
  ],
  { error: (issue) => (issue.code === 'invalid_union' ? 'expected true or { hostAlias: ADDRESS }' : undefined) },
);
