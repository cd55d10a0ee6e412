/**
 * NAT mappings and external port allocation.
 *
 * Read first: RFC 4787 §4.1 (REQ-1: "A NAT MUST have an 'Endpoint-Independent
 * Mapping' behavior"), §4.2.1-4.2.3 (REQ-3: port ranges, REQ-4: port
 * parity is optional), RFC 5382 §4 (REQ-1, the same for TCP), RFC 5508 §3.1
 * (ICMP query identifiers are mapped like ports), RFC 6056 §3.3.1 (random
 * port selection), RFC 7857 §3 (mapping lifetime follows its sessions).
 *
 * A mapping binds an internal endpoint (protocol, address, port) to an
 * external one on one external address. Endpoint-independent: every session
 * from the same internal endpoint through the same external address reuses
 * the mapping, whatever its destination, so a peer-to-peer application sees
 * one stable external port. A mapping lives as long as a conntrack session
 * holds it (reference counted); the session timeouts are the mapping timeouts.
 */
import type { Ipv4Address } from '../../l3/ipv4/address.js';
import { formatIpv4 } from '../../l3/ipv4/address.js';
import { IpProtocol } from '../../l3/ip-protocol.js';
import type { Random } from '../../core/time.js';

/** An inclusive port (or ICMP identifier) range. */
export interface PortRange {
  readonly min: number;
  readonly max: number;
}

/** RFC 4787 REQ-3: "If the host's source port was in the range 0-1023, it is RECOMMENDED the NAT's source port be in the same range." */
export const PRIVILEGED_PORTS: PortRange = { min: 1, max: 1023 };
/** RFC 4787 REQ-3: "... in the range 1024-65535, it is RECOMMENDED that the NAT's source port be in that range as well." */
export const UNPRIVILEGED_PORTS: PortRange = { min: 1024, max: 65535 };
/** RFC 5508 §3.1: the whole 16-bit Query Identifier space. */
export const ICMP_IDENTIFIERS: PortRange = { min: 0, max: 65535 };

export interface NatMapping {
  readonly protocol: number;
  readonly internal: Ipv4Address;
  readonly internalPort: number;
  readonly external: Ipv4Address;
  readonly externalPort: number;
  /** Sessions (conntrack entries) using the mapping. */
  refs: number;
}

/** The range RFC 4787 REQ-3 recommends for an internal port, unless the rule names one. */
export function defaultRange(protocol: number, internalPort: number): PortRange {
  if (protocol === IpProtocol.ICMP) return ICMP_IDENTIFIERS;
  return internalPort < 1024 ? PRIVILEGED_PORTS : UNPRIVILEGED_PORTS;
}

export function describeMapping(m: NatMapping): string {
  const proto = m.protocol === IpProtocol.TCP ? 'tcp' : m.protocol === IpProtocol.UDP ? 'udp' : m.protocol === IpProtocol.ICMP ? 'icmp' : String(m.protocol);
  return `${proto} ${formatIpv4(m.internal)}:${m.internalPort} -> ${formatIpv4(m.external)}:${m.externalPort} sessions=${m.refs}`;
}

export class MappingTable {
  private readonly byInternal = new Map<string, NatMapping>();
  private readonly byExternal = new Map<string, NatMapping>();
  /** Mappings per (protocol, external address): a full range is known without probing it. */
  private readonly usedPerAddress = new Map<string, number>();

  constructor(private readonly random: Random) {}

  get size(): number {
    return this.byInternal.size;
  }

  /** The mapping of an internal endpoint on `external`, if there is one (endpoint-independent reuse). */
  findInternal(protocol: number, internal: Ipv4Address, internalPort: number, external: Ipv4Address): NatMapping | undefined {
    return this.byInternal.get(`${protocol}/${internal}:${internalPort}/${external}`);
  }

  /** The mapping that owns an external endpoint (inbound lookups, hairpinning). */
  findExternal(protocol: number, external: Ipv4Address, externalPort: number): NatMapping | undefined {
    return this.byExternal.get(`${protocol}/${external}:${externalPort}`);
  }

  /**
   * A new mapping for the internal endpoint on `external`, its port chosen
   * in `range`: the internal port itself when free (port preservation, what
   * Linux tries first), else a random start probed upward (RFC 6056 §3.3.1
   * algorithm 1). `usable(port)` vetoes ports taken by other owners
   * (published ports, the host's own sockets, live conntrack tuples).
   * Undefined when the range is exhausted.
   */
  allocate(
    protocol: number,
    internal: Ipv4Address,
    internalPort: number,
    external: Ipv4Address,
    range: PortRange,
    usable: (port: number) => boolean,
  ): NatMapping | undefined {
    const size = range.max - range.min + 1;
    const addressKey = `${protocol}/${external}`;
    if ((this.usedPerAddress.get(addressKey) ?? 0) >= size) return undefined;
    const free = (port: number): boolean => !this.byExternal.has(`${addressKey}:${port}`) && usable(port);
    let chosen: number | undefined;
    if (internalPort >= range.min && internalPort <= range.max && free(internalPort)) {
      chosen = internalPort;
    } else {
      const start = this.random.u32() % size;
      for (let i = 0; i < size; i++) {
        const port = range.min + ((start + i) % size);
        if (free(port)) {
          chosen = port;
          break;
        }
      }
    }
    if (chosen === undefined) return undefined;
    const mapping: NatMapping = { protocol, internal, internalPort, external, externalPort: chosen, refs: 0 };
    this.byInternal.set(`${protocol}/${internal}:${internalPort}/${external}`, mapping);
    this.byExternal.set(`${addressKey}:${chosen}`, mapping);
    this.usedPerAddress.set(addressKey, (this.usedPerAddress.get(addressKey) ?? 0) + 1);
    return mapping;
  }

  /** One more session uses the mapping. */
  hold(m: NatMapping): void {
    m.refs++;
  }

  /** A session let go; the last one frees the mapping and its port (RFC 7857 §3). */
  release(m: NatMapping): void {
    m.refs--;
    this.discardIfUnused(m);
  }

  /** Frees a mapping no session holds (one allocated for a first packet that was then dropped). */
  discardIfUnused(m: NatMapping): void {
    if (m.refs > 0) return;
    const internalKey = `${m.protocol}/${m.internal}:${m.internalPort}/${m.external}`;
    if (this.byInternal.get(internalKey) !== m) return;
    this.byInternal.delete(internalKey);
    this.byExternal.delete(`${m.protocol}/${m.external}:${m.externalPort}`);
    const addressKey = `${m.protocol}/${m.external}`;
    const used = (this.usedPerAddress.get(addressKey) ?? 1) - 1;
    if (used > 0) this.usedPerAddress.set(addressKey, used);
    else this.usedPerAddress.delete(addressKey);
  }

  entries(): NatMapping[] {
    return [...this.byInternal.values()];
  }
}
