/**
 * The packet list's filter: a subset of pcap-filter(7), the language
 * tcpdump and Wireshark's capture filter speak, so what a learner types here
 * works there too:
 *
 *   expr    := and ('or' | '||') and ...
 *   and     := unary ('and' | '&&') unary ...
 *   unary   := ('not' | '!') unary | '(' expr ')' | primitive
 *   primitive := PROTO [QUALIFIED]      arp ip ip6 icmp icmp6 tcp udp ndp dns dhcp http vlan
 *              | QUALIFIED
 *   QUALIFIED := [src|dst] host ADDR    an IPv4 or IPv6 address (also bare: `10.1.0.10`, `src 10.1.0.10`)
 *              | [src|dst] net CIDR     10.1.0.0/24, fd00:1::/64
 *              | [src|dst] port N       TCP or UDP port
 *              | [src|dst] portrange N-M
 *
 * `tcp port 80` is `tcp and port 80` and `ip host 10.1.0.10` is `ip and host
 * 10.1.0.10`, as in pcap-filter. Parsing returns an
 * error with the offending word's offset, never throws: the text comes from
 * the browser.
 */
import type { PacketSummary } from './decode.js';

export type FilterNode =
  | { readonly op: 'and' | 'or'; readonly left: FilterNode; readonly right: FilterNode }
  | { readonly op: 'not'; readonly operand: FilterNode }
  | { readonly op: 'proto'; readonly name: string }
  | { readonly op: 'host'; readonly dir: Direction; readonly address: string }
  | { readonly op: 'net'; readonly dir: Direction; readonly family: 4 | 6; readonly bits: bigint; readonly prefixLength: number }
  | { readonly op: 'port'; readonly dir: Direction; readonly port: number; readonly last?: number }
  | { readonly op: 'all' };

type Direction = 'src' | 'dst' | 'any';

export type FilterResult = { ok: true; filter: FilterNode } | { ok: false; error: string; offset: number };

export const FILTER_PROTOCOLS = ['ether', 'arp', 'ip', 'ip6', 'icmp', 'icmp6', 'tcp', 'udp', 'ndp', 'dns', 'dhcp', 'http', 'vlan'] as const;
/** Longest filter text accepted (a browser could send anything). */
export const FILTER_TEXT_MAX = 512;

interface Token {
  readonly text: string;
  readonly offset: number;
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  const re = /\s*(\(|\)|&&|\|\||!|[^\s()!&|]+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null && m[1] !== undefined) tokens.push({ text: m[1].toLowerCase(), offset: m.index + m[0].length - m[1].length });
  return tokens;
}

class FilterSyntaxError {
  constructor(
    readonly message: string,
    readonly offset: number,
  ) {}
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;
const IPV6 = /^[0-9a-f:]*:[0-9a-f:.]*$/;

export function parseFilter(text: string): FilterResult {
  if (text.length > FILTER_TEXT_MAX) return { ok: false, error: `filter longer than ${FILTER_TEXT_MAX} characters`, offset: FILTER_TEXT_MAX };
  const tokens = tokenize(text);
  if (tokens.length === 0) return { ok: true, filter: { op: 'all' } };
  let i = 0;
  const peek = (): string | undefined => tokens[i]?.text;
  const fail = (message: string): never => {
    throw new FilterSyntaxError(message, tokens[i]?.offset ?? text.length);
  };
  const isProto = (w: string | undefined): boolean => w !== undefined && (FILTER_PROTOCOLS as readonly string[]).includes(w);

  const address = (): string => {
    const w = peek();
    if (w === undefined || !(IPV4.test(w) || IPV6.test(w))) return fail(`expected an IPv4 or IPv6 address${w ? `, not '${w}'` : ''}`);
    i++;
    return w;
  };
  const port = (): number => {
    const w = peek();
    if (w === undefined || !/^\d{1,5}$/.test(w) || Number(w) > 65535) return fail(`expected a port 0-65535${w ? `, not '${w}'` : ''}`);
    i++;
    return Number(w);
  };
  const net = (dir: Direction): FilterNode => {
    const w = peek();
    const n = w === undefined ? undefined : parseNet(w);
    if (n === undefined) return fail(`expected a network ADDRESS/LENGTH, e.g. 10.1.0.0/24 or fd00:1::/64${w ? `, not '${w}'` : ''}`);
    i++;
    return { op: 'net', dir, ...n };
  };
  const portRange = (dir: Direction): FilterNode => {
    const w = peek();
    const m = w === undefined ? null : /^(\d{1,5})-(\d{1,5})$/.exec(w);
    if (!m || Number(m[1]) > Number(m[2]) || Number(m[2]) > 65535) return fail(`expected a port range N-M within 0-65535${w ? `, not '${w}'` : ''}`);
    i++;
    return { op: 'port', dir, port: Number(m[1]), last: Number(m[2]) };
  };
  const qualified = (dir: Direction): FilterNode => {
    const w = peek();
    if (w === 'host') {
      i++;
      return { op: 'host', dir, address: address() };
    }
    if (w === 'net') {
      i++;
      return net(dir);
    }
    if (w === 'port') {
      i++;
      return { op: 'port', dir, port: port() };
    }
    if (w === 'portrange') {
      i++;
      return portRange(dir);
    }
    if (dir !== 'any') return { op: 'host', dir, address: address() };
    return fail(`expected host, net, port or portrange${w ? `, not '${w}'` : ''}`);
  };
  const QUALIFIERS = ['host', 'net', 'port', 'portrange', 'src', 'dst'];
  const primitive = (): FilterNode => {
    const w = peek();
    if (w === undefined) return fail('expression ends too early');
    if (isProto(w)) {
      i++;
      const proto: FilterNode = { op: 'proto', name: w };
      // pcap-filter: `tcp port 80`, `udp src port 53`, `ip host 10.1.0.10`, `ip6 src net fd00:1::/64`
      if (QUALIFIERS.includes(peek() ?? '')) return { op: 'and', left: proto, right: primitive() };
      return proto;
    }
    if (w === 'src' || w === 'dst') {
      i++;
      return qualified(w);
    }
    if (w === 'host' || w === 'net' || w === 'port' || w === 'portrange') return qualified('any');
    if (IPV4.test(w) || IPV6.test(w)) {
      i++;
      return { op: 'host', dir: 'any', address: w };
    }
    return fail(`unknown word '${w}' (protocols: ${FILTER_PROTOCOLS.join(' ')}; host ADDR, net CIDR, port N, portrange N-M, src/dst, and, or, not)`);
  };
  const unary = (): FilterNode => {
    const w = peek();
    if (w === 'not' || w === '!') {
      i++;
      return { op: 'not', operand: unary() };
    }
    if (w === '(') {
      i++;
      const inner = or();
      if (peek() !== ')') return fail("expected ')'");
      i++;
      return inner;
    }
    return primitive();
  };
  const and = (): FilterNode => {
    let left = unary();
    while (peek() === 'and' || peek() === '&&') {
      i++;
      left = { op: 'and', left, right: unary() };
    }
    return left;
  };
  const or = (): FilterNode => {
    let left = and();
    while (peek() === 'or' || peek() === '||') {
      i++;
      left = { op: 'or', left, right: and() };
    }
    return left;
  };
  try {
    const filter = or();
    if (i < tokens.length) fail(`unexpected '${tokens[i]!.text}'`);
    return { ok: true, filter };
  } catch (e) {
    if (e instanceof FilterSyntaxError) return { ok: false, error: e.message, offset: e.offset };
    if (e instanceof RangeError) return { ok: false, error: 'filter nested too deeply', offset: 0 };
    throw e;
  }
}

/** Does the packet match? Protocol names are the decode's layer names (ipv4 is `ip`, icmpv6 `icmp6`). */
export function matchFilter(f: FilterNode, p: PacketSummary): boolean {
  switch (f.op) {
    case 'all':
      return true;
    case 'and':
      return matchFilter(f.left, p) && matchFilter(f.right, p);
    case 'or':
      return matchFilter(f.left, p) || matchFilter(f.right, p);
    case 'not':
      return !matchFilter(f.operand, p);
    case 'proto':
      return hasProtocol(p, f.name);
    case 'host':
      return (f.dir !== 'dst' && sameAddress(p.source, f.address)) || (f.dir !== 'src' && sameAddress(p.destination, f.address));
    case 'net':
      return (f.dir !== 'dst' && inNet(p.source, f)) || (f.dir !== 'src' && inNet(p.destination, f));
    case 'port': {
      const last = f.last ?? f.port;
      const hit = (port: number | undefined): boolean => port !== undefined && port >= f.port && port <= last;
      return (f.dir !== 'dst' && hit(p.sourcePort)) || (f.dir !== 'src' && hit(p.destinationPort));
    }
  }
}

/** `10.1.0.0/24` or `fd00:1::/64` as address bits; undefined for anything else. Host bits set are ignored, as tcpdump masks them. */
function parseNet(text: string): { family: 4 | 6; bits: bigint; prefixLength: number } | undefined {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(text);
  if (!m) return undefined;
  const prefixLength = Number(m[2]);
  const bits = addressBits(m[1]!);
  if (bits === undefined || prefixLength > (bits.family === 4 ? 32 : 128)) return undefined;
  return { family: bits.family, bits: mask(bits.value, bits.family, prefixLength), prefixLength };
}

function mask(value: bigint, family: 4 | 6, prefixLength: number): bigint {
  const width = family === 4 ? 32n : 128n;
  const host = width - BigInt(prefixLength);
  return (value >> host) << host;
}

function inNet(address: string | undefined, net: { family: 4 | 6; bits: bigint; prefixLength: number }): boolean {
  const a = address === undefined ? undefined : addressBits(address);
  return a !== undefined && a.family === net.family && mask(a.value, a.family, net.prefixLength) === net.bits;
}

/** An address as a number: IPv4 dotted quad, or IPv6 text (`::` shorthand, no embedded IPv4). */
function addressBits(text: string): { family: 4 | 6; value: bigint } | undefined {
  if (IPV4.test(text)) return { family: 4, value: text.split('.').reduce((v, o) => (v << 8n) | BigInt(o), 0n) };
  if (!/^[0-9a-f:]+$/i.test(text) || !text.includes(':')) return undefined;
  const groups = expand6(text.toLowerCase()).split(':');
  if (groups.length !== 8 || groups.some((g) => !/^[0-9a-f]{1,4}$/.test(g)) || (text.match(/::/g)?.length ?? 0) > 1) return undefined;
  return { family: 6, value: groups.reduce((v, g) => (v << 16n) | BigInt(parseInt(g, 16)), 0n) };
}

const PROTOCOL_ALIASES: Record<string, string> = { ip: 'ipv4', ip6: 'ipv6', icmp6: 'icmpv6', ether: 'ethernet', vlan: 'vlan' };

function hasProtocol(p: PacketSummary, name: string): boolean {
  const want = PROTOCOL_ALIASES[name] ?? name;
  return p.protocols.includes(want);
}

function sameAddress(a: string | undefined, b: string): boolean {
  if (a === undefined) return false;
  if (a === b) return true;
  // IPv6 text forms differ (leading zeros, ::): compare the canonical form the decode uses.
  return b.includes(':') && a.includes(':') && expand6(a) === expand6(b);
}

function expand6(text: string): string {
  const [head = '', tail] = text.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const middle = tail === undefined ? [] : new Array(Math.max(0, 8 - h.length - t.length)).fill('0');
  return [...h, ...middle, ...t].map((g) => g.replace(/^0+(?=.)/, '')).join(':');
}
