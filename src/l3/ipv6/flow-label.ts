/**
 * The Flow Label of IPv6 packets this node originates.
 *
 * Read first: RFC 6437 §3 (a source SHOULD label each flow, with values
 * "chosen from an approximation to a discrete uniform distribution", and a
 * stateless hash of the flow's 5-tuple with a secret is the suggested way),
 * RFC 6438 (why: ECMP and link aggregation hash on it). Linux does the same
 * with net.ipv6.auto_flowlabels=1 (ip6_make_flowlabel): always 0 before
 * tapnet did this, which set it apart from every modern host.
 *
 * The flow is (source, destination, next header, and for TCP and UDP the two
 * ports: the first 4 bytes of the transport header). Neighbour Discovery and
 * MLD leave through another path and keep label 0, as Linux's ndisc does.
 */
import type { Random } from '../../core/time.js';
import { IpProtocol } from '../ip-protocol.js';
import type { Ipv6Address } from './address.js';

/** RFC 6437 §2: 20 bits. */
export const FLOW_LABEL_MASK = 0xfffff;

export class FlowLabeler {
  private readonly key: number;

  constructor(random: Random) {
    this.key = random.u32();
  }

  /** A non-zero label for this flow: the same flow always gets the same one (a keyed murmur3-style mix). */
  labelFor(source: Ipv6Address, destination: Ipv6Address, nextHeader: number, transport: Uint8Array): number {
    let h = this.key ^ nextHeader;
    for (let i = 0; i < 16; i += 4) {
      h = mix(h, (source[i]! << 24) | (source[i + 1]! << 16) | (source[i + 2]! << 8) | source[i + 3]!);
      h = mix(h, (destination[i]! << 24) | (destination[i + 1]! << 16) | (destination[i + 2]! << 8) | destination[i + 3]!);
    }
    if ((nextHeader === IpProtocol.TCP || nextHeader === IpProtocol.UDP) && transport.length >= 4) {
      h = mix(h, (transport[0]! << 24) | (transport[1]! << 16) | (transport[2]! << 8) | transport[3]!);
    }
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    const label = (h >>> 0) & FLOW_LABEL_MASK;
    // RFC 6437 §2: zero means "not labelled".
    return label === 0 ? 1 : label;
  }
}

function mix(h: number, word: number): number {
  let k = Math.imul(word, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}
