/**
 * The DHCPv6 server's protocol core: one client message in, the reply out
 * (or nothing), and the bindings it keeps. Read first: RFC 8415 §18.3 (server
 * behaviour, message by message), §16 (which messages to discard), §18.2.1 /
 * §21.14 (Rapid Commit), §21.4 (T1/T2), RFC 3646 (DNS options).
 *
 *   stateless (RA O flag): Information-request ─▶ Reply (DNS servers, domain list)
 *   stateful  (RA M flag): Solicit ─▶ Advertise   Request ─▶ Reply (IA_NA address from the pool)
 *                          Renew / Rebind ─▶ Reply (lifetimes extended)   Release / Decline ─▶ Reply
 *                          Confirm ─▶ Reply (Success or NotOnLink)
 *
 * No sockets here: the caller receives on UDP port 547 (ff02::1:2, the
 * All_DHCP_Relay_Agents_and_Servers group) and sends the reply to the
 * client's link-local address, port 546 (service.ts does that for `tapnet up`).
 *
 * Caps: bindings in all (the pool's size, and DHCP6_MAX_BINDINGS), IAs per
 * client (DHCP6_MAX_IA_PER_CLIENT); a declined address is kept out of the
 * pool for DHCP6_DECLINE_HOLD_S.
 */
import type { StackContext } from '../../core/context.js';
import { formatIpv6, ipv6Equal, ipv6Key, inIpv6Cidr, type Ipv6Address, type Ipv6Cidr } from '../../l3/ipv6/address.js';
import { Dhcp6MessageType, encodeDhcp6Message, findDhcp6Option, parseDhcp6Message, type Dhcp6Message, type Dhcp6RawOption } from './message.js';
import {
  Dhcp6OptionCode,
  Dhcp6Status,
  dnsServersOption,
  domainListOption,
  formatDuid,
  iaNaOption,
  parseDuid,
  parseIaNa,
  parseOptionRequest,
  statusCodeOption,
  type IaNa,
} from './options.js';

/** Bindings kept at most, whatever the pool's size. tapnet's choice (dnsmasq's dhcp-lease-max default is 1000). */
export const DHCP6_MAX_BINDINGS = 1000;
/** IA_NAs one client (DUID) may hold. tapnet's choice: a host has a few interfaces, not hundreds. */
export const DHCP6_MAX_IA_PER_CLIENT = 4;
/** Valid and preferred lifetimes handed out (dnsmasq's default lease time is one hour). */
export const DHCP6_VALID_LIFETIME_S = 3600;
export const DHCP6_PREFERRED_LIFETIME_S = 3000;
/** A declined address stays out of the pool this long (RFC 8415 §18.3.8 leaves it to the server; ISC's is 24 h, a lab's is shorter). */
export const DHCP6_DECLINE_HOLD_S = 600;

export interface Dhcp6ServerConfig {
  /** This server's DUID (its Server Identifier, §21.3). */
  readonly duid: Uint8Array;
  /** The link's prefix: Confirm checks addresses against it (§18.3.3). */
  readonly prefix: Ipv6Cidr;
  /** Stateful: addresses from `first` to `last` (inclusive; they differ in the last 16 bits only); undefined: stateless only. An Advertise reserves nothing (§18.3.1): an address is bound at Request. */
  readonly pool?: { readonly first: Ipv6Address; readonly last: Ipv6Address };
  readonly dnsServers: readonly Ipv6Address[];
  readonly domains: readonly string[];
  /** Answer a Solicit with Rapid Commit by a Reply at once (§18.3.1); off by default, like most servers. */
  readonly rapidCommit?: boolean;
}

export interface Dhcp6Binding {
  readonly duid: string;
  readonly iaid: number;
  readonly address: Ipv6Address;
  expiresAt: number;
}

export class Dhcp6Server {
  private readonly bindings = new Map<string, Dhcp6Binding>();
  /** Declined addresses (key) → until when they stay out of the pool. */
  private readonly declined = new Map<string, number>();

  constructor(
    private readonly ctx: StackContext,
    readonly config: Dhcp6ServerConfig,
  ) {
    const pool = config.pool;
    if (pool && (!pool.first.subarray(0, 14).every((b, i) => b === pool.last[i]) || pool.first[14]! * 256 + pool.first[15]! > pool.last[14]! * 256 + pool.last[15]!)) {
      throw new RangeError(`DHCPv6 pool ${formatIpv6(pool.first)}-${formatIpv6(pool.last)}: the ends must differ in the last 16 bits only, first ≤ last`);
    }
    ctx.stats.declare('dhcp6InMessages', 'dhcp6InErrors', 'dhcp6InDiscards', 'dhcp6OutReplies', 'dhcp6OutAdvertises', 'dhcp6NoAddrsAvail', 'dhcp6Bindings', 'dhcp6OutErrors');
  }

  /** RFC 8415 §18.3: the reply to one message from a client, or undefined (discarded, counted and traced). */
  receive(bytes: Uint8Array): Uint8Array | undefined {
    const { ctx } = this;
    ctx.stats.inc('dhcp6InMessages');
    const parsed = parseDhcp6Message(bytes);
    if (!parsed.ok) {
      ctx.trace.dropped('dhcp6InErrors', `malformed DHCPv6 message: ${parsed.error.detail ?? parsed.error.reason}`);
      return undefined;
    }
    const m = parsed.value;
    const clientOption = findDhcp6Option(m.options, Dhcp6OptionCode.CLIENTID);
    const client = clientOption ? parseDuid(clientOption.data) : undefined;
    const serverOption = findDhcp6Option(m.options, Dhcp6OptionCode.SERVERID);
    const forUs = serverOption !== undefined && serverOption.data.length === this.config.duid.length && serverOption.data.every((b, i) => b === this.config.duid[i]);
    const discard = (why: string): undefined => {
      ctx.trace.dropped('dhcp6InDiscards', why, () => `xid ${m.transactionId.toString(16)}`);
      return undefined;
    };
    if (client && !client.ok) return discard(`bad Client Identifier: ${client.error.detail}`);
    const T = Dhcp6MessageType;
    // §16.x: what each message must and must not carry.
    switch (m.msgType) {
      case T.SOLICIT:
      case T.REBIND:
      case T.CONFIRM:
        if (!client) return discard('no Client Identifier (RFC 8415 §16)');
        if (serverOption) return discard('a Server Identifier where none belongs (RFC 8415 §16)');
        break;
      case T.REQUEST:
      case T.RENEW:
      case T.RELEASE:
      case T.DECLINE:
        if (!client || !forUs) return discard('no Client Identifier, or a Server Identifier that is not ours (RFC 8415 §16)');
        break;
      case T.INFORMATION_REQUEST:
        if (serverOption && !forUs) return discard('Information-request for another server (RFC 8415 §16.12)');
        break;
      default:
        return discard(`message type ${m.msgType} is not one a server answers`);
    }
    if (m.msgType !== T.INFORMATION_REQUEST && !this.config.pool) return discard('stateless server: no addresses to assign');
    const duid = client ? formatDuid(client.value) : '';
    const ias: IaNa[] = [];
    for (const o of m.options) {
      if (o.code !== Dhcp6OptionCode.IA_NA) continue;
      const ia = parseIaNa(o.data);
      if (!ia.ok) return discard(`bad IA_NA: ${ia.error.detail}`);
      ias.push(ia.value);
    }
    if (ias.length > DHCP6_MAX_IA_PER_CLIENT) return discard(`${ias.length} IA_NAs in one message, at most ${DHCP6_MAX_IA_PER_CLIENT}`);
    const rapid = m.msgType === T.SOLICIT && this.config.rapidCommit === true && findDhcp6Option(m.options, Dhcp6OptionCode.RAPID_COMMIT) !== undefined;
    const now = ctx.clock.now();
    this.expire(now);
    const out: Dhcp6RawOption[] = [];
    let type: number = T.REPLY;
    switch (m.msgType) {
      case T.SOLICIT:
        type = rapid ? T.REPLY : T.ADVERTISE;
        for (const ia of ias) out.push(this.assign(duid, ia, now, rapid));
        if (rapid) out.push({ code: Dhcp6OptionCode.RAPID_COMMIT, data: new Uint8Array(0) });
        break;
      case T.REQUEST:
        for (const ia of ias) out.push(this.assign(duid, ia, now, true));
        break;
      case T.RENEW:
      case T.REBIND:
        // §18.3.4/§18.3.5: extend what the client holds; an address we do not know gets lifetimes 0.
        for (const ia of ias) out.push(this.renew(duid, ia, now));
        break;
      case T.RELEASE:
      case T.DECLINE:
        for (const ia of ias) {
          for (const a of ia.addresses) {
            const b = this.bindings.get(bindingKey(duid, ia.iaid));
            if (b && ipv6Equal(b.address, a.address)) this.bindings.delete(bindingKey(duid, ia.iaid));
            if (m.msgType === T.DECLINE) this.declined.set(ipv6Key(a.address), now + DHCP6_DECLINE_HOLD_S * 1000);
          }
        }
        out.push(statusCodeOption(Dhcp6Status.Success, m.msgType === T.RELEASE ? 'released' : 'declined'));
        break;
      case T.CONFIRM: {
        // §18.3.3: are the client's addresses on this link?
        const onLink = ias.every((ia) => ia.addresses.every((a) => inIpv6Cidr(a.address, this.config.prefix)));
        out.push(onLink ? statusCodeOption(Dhcp6Status.Success, 'on link') : statusCodeOption(Dhcp6Status.NotOnLink, 'not on this link'));
        break;
      }
      case T.INFORMATION_REQUEST:
        break;
    }
    ctx.stats.set('dhcp6Bindings', this.bindings.size);
    const reply: Dhcp6Message = { msgType: type, transactionId: m.transactionId, options: [...this.identifiers(clientOption), ...out, ...this.configOptions(m.options)] };
    ctx.stats.inc(type === T.ADVERTISE ? 'dhcp6OutAdvertises' : 'dhcp6OutReplies');
    return encodeDhcp6Message(reply);
  }

  /** Server Identifier, and the client's own identifier echoed (§18.3.x). */
  private identifiers(clientOption: Dhcp6RawOption | undefined): Dhcp6RawOption[] {
    const out: Dhcp6RawOption[] = [{ code: Dhcp6OptionCode.SERVERID, data: this.config.duid }];
    if (clientOption) out.unshift(clientOption);
    return out;
  }

  /** The DNS servers and domain list, when the client asked for them in its Option Request (§18.3, RFC 3646 §5). */
  private configOptions(options: readonly Dhcp6RawOption[]): Dhcp6RawOption[] {
    const oro = findDhcp6Option(options, Dhcp6OptionCode.ORO);
    const asked = oro ? parseOptionRequest(oro.data) : undefined;
    const wants = (code: number): boolean => asked !== undefined && asked.ok && asked.value.includes(code);
    const out: Dhcp6RawOption[] = [];
    if (wants(Dhcp6OptionCode.DNS_SERVERS) && this.config.dnsServers.length > 0) out.push(dnsServersOption(this.config.dnsServers));
    if (wants(Dhcp6OptionCode.DOMAIN_LIST) && this.config.domains.length > 0) out.push(domainListOption(this.config.domains));
    return out;
  }

  /** An address for the IA: the one it holds, else the first free one in the pool; NoAddrsAvail when none (§18.3.1). */
  private assign(duid: string, ia: IaNa, now: number, commit: boolean): Dhcp6RawOption {
    const key = bindingKey(duid, ia.iaid);
    const held = this.bindings.get(key);
    const address = held?.address ?? this.freeAddress();
    if (!address || (!held && commit && this.bindings.size >= DHCP6_MAX_BINDINGS)) {
      this.ctx.stats.inc('dhcp6NoAddrsAvail');
      return iaNaOption({ iaid: ia.iaid, t1: 0, t2: 0, addresses: [], status: { code: Dhcp6Status.NoAddrsAvail, message: 'no addresses available' } });
    }
    if (commit) this.bindings.set(key, { duid, iaid: ia.iaid, address, expiresAt: now + DHCP6_VALID_LIFETIME_S * 1000 });
    return this.iaReply(ia.iaid, address, DHCP6_PREFERRED_LIFETIME_S, DHCP6_VALID_LIFETIME_S);
  }

  private renew(duid: string, ia: IaNa, now: number): Dhcp6RawOption {
    const b = this.bindings.get(bindingKey(duid, ia.iaid));
    if (b && (ia.addresses.length === 0 || ia.addresses.some((a) => ipv6Equal(a.address, b.address)))) {
      b.expiresAt = now + DHCP6_VALID_LIFETIME_S * 1000;
      return this.iaReply(ia.iaid, b.address, DHCP6_PREFERRED_LIFETIME_S, DHCP6_VALID_LIFETIME_S);
    }
    // §18.3.4: "the server ... returns the IA ... with lifetimes of 0" for addresses it will not extend.
    return iaNaOption({ iaid: ia.iaid, t1: 0, t2: 0, addresses: ia.addresses.map((a) => ({ address: a.address, preferredLifetime: 0, validLifetime: 0 })) });
  }

  /** T1 = 0.5 and T2 = 0.8 of the preferred lifetime (§21.4's recommendation). */
  private iaReply(iaid: number, address: Ipv6Address, preferred: number, valid: number): Dhcp6RawOption {
    return iaNaOption({ iaid, t1: Math.floor(preferred * 0.5), t2: Math.floor(preferred * 0.8), addresses: [{ address, preferredLifetime: preferred, validLifetime: valid }] });
  }

  private freeAddress(): Ipv6Address | undefined {
    const pool = this.config.pool;
    if (!pool) return undefined;
    const used = new Set([...this.bindings.values()].map((b) => ipv6Key(b.address)));
    const first = pool.first[14]! * 256 + pool.first[15]!;
    const last = pool.last[14]! * 256 + pool.last[15]!;
    for (let n = first; n <= last; n++) {
      const a = pool.first.slice();
      a[14] = n >> 8;
      a[15] = n & 0xff;
      const k = ipv6Key(a);
      if (!used.has(k) && !this.declined.has(k)) return a;
    }
    return undefined;
  }

  private expire(now: number): void {
    for (const [k, b] of this.bindings) if (b.expiresAt <= now) this.bindings.delete(k);
    for (const [k, until] of this.declined) if (until <= now) this.declined.delete(k);
  }

  /** Bindings for `tapnet show leases`: DUID, IAID, address, seconds left. */
  leases(): Array<{ duid: string; iaid: number; address: string; expiresIn: number }> {
    const now = this.ctx.clock.now();
    // A binding past its valid lifetime is gone (expire() deletes it at the next message): not listed.
    return [...this.bindings.values()].filter((b) => b.expiresAt > now).map((b) => ({ duid: b.duid, iaid: b.iaid, address: formatIpv6(b.address), expiresIn: Math.max(0, Math.floor((b.expiresAt - now) / 1000)) }));
  }
}

function bindingKey(duid: string, iaid: number): string {
  return `${duid}|${iaid}`;
}
