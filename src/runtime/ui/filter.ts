/**
 * The packet list's filter: a subset of pcap-filter(7), the language
 * tcpdump and Wireshark's capture filter speak, so what a learner types here
 * works there too:
 *
 *   expr    := and ('or' | '||') and ...
 *   and     := unary ('and' | '&&') unary ...
 *   unary   := ('not' | '!') unary | '(' expr ')' | primitive
 *   primitive := PROTO [PORTQ]          arp ip ip6 icmp icmp6 tcp udp ndp dns dhcp http vlan
 *              | [src|dst] host ADDR    an IPv4 or IPv6 address (also bare: `10.1.0.10`)
 *              | [src|dst] port N       TCP or UDP port
 *
 * `tcp port 80` is `tcp and port 80`, as in pcap-filter. Parsing returns an
 * error with the offending word's offset, never throws: the text comes from
 * the browser.
 */
import type { PacketSummary } from './decode.js';

export type FilterNode =
  | { readonly op: 'and' | 'or'; readonly left: FilterNode; readonly right: FilterNode }
  | { readonly op: 'not'; readonly operand: FilterNode }
  | { readonly op: 'proto'; readonly name: string }
  | { readonly op: 'host'; readonly dir: Direction; readonly address: string }
  | { readonly op: 'port'; readonly dir: Direction; readonly port: number }
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
  const qualified = (dir: Direction): FilterNode => {
    const w = peek();
    if (w === 'host') {
      i++;
      return { op: 'host', dir, address: address() };
    }
    if (w === 'port') {
      i++;
      return { op: 'port', dir, port: port() };
    }
    if (dir !== 'any') return { op: 'host', dir, address: address() };
    return fail(`expected host or port${w ? `, not '${w}'` : ''}`);
  };
  const primitive = (): FilterNode => {
    const w = peek();
    if (w === undefined) return fail('expression ends too early');
    if (isProto(w)) {
      i++;
      const proto: FilterNode = { op: 'proto', name: w };
      // pcap-filter: `tcp port 80`, `udp src port 53`
      if (peek() === 'port' || ((peek() === 'src' || peek() === 'dst') && tokens[i + 1]?.text === 'port')) {
        return { op: 'and', left: proto, right: primitive() };
      }
      return proto;
    }
    if (w === 'src' || w === 'dst') {
      i++;
      return qualified(w);
    }
    if (w === 'host' || w === 'port') return qualified('any');
    if (IPV4.test(w) || IPV6.test(w)) {
      i++;
      return { op: 'host', dir: 'any', address: w };
    }
    return fail(`unknown word '${w}' (protocols: ${FILTER_PROTOCOLS.join(' ')}; host ADDR, port N, src/dst, and, or, not)`);
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
    case 'port':
      return (f.dir !== 'dst' && p.sourcePort === f.port) || (f.dir !== 'src' && p.destinationPort === f.port);
  }
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
