/**
 * Authoritative zone data and lookup. Read first: RFC 1034 §4.3.2 (the
 * lookup algorithm: match the name, chase a CNAME, otherwise copy the RRset;
 * additional-section processing), RFC 1034 §3.6.2 and RFC 2181 §10.1 (a CNAME
 * owner holds no other data), RFC 2308 §2-3 (NXDOMAIN and NODATA answers
 * carry the zone's SOA in the authority section, TTL = min(SOA TTL, MINIMUM)),
 * RFC 8020 (an empty non-terminal is NODATA, not NXDOMAIN), RFC 6604 (after a
 * CNAME chain the RCODE describes the last name), RFC 4343 (names match
 * without regard to ASCII case; the stored case is what goes out).
 *
 * One `Zone` object holds the lab's forward zone ("lab.") and its reverse
 * zones ("0.77.10.in-addr.arpa."); every A/AAAA record whose reverse name
 * falls in a reverse zone gets a PTR there automatically. Hosts that DHCP
 * leases come and go through `registerLease` / `unregisterLease`.
 *
 * An NS RRset below an apex is a zone cut (RFC 1034 §4.2.1): names at and
 * below it are answered with a referral (§4.3.2 step 3b: the NS RRset in the
 * authority section, the servers' addresses, the "glue", in the additional
 * section, AA clear), which is how a root or TLD server sends a resolver on.
 *
 * Round robin: an A or AAAA RRset of several records comes out rotated by one
 * on every answer (BIND's rrset-order cyclic), so clients that take the first
 * address spread over the servers.
 *
 * Not here: wildcards (RFC 4592), DNSSEC (and so DS at a cut), zone transfers.
 */
import type { Ipv4Address } from '../../l3/ipv4/address.js';
import { DnsClass, DnsType, dnsTypeName } from './constants.js';
import { describeRecord, type DnsRecord } from './message.js';
import { canonicalName, labelsToName, nameToLabels } from './name.js';
import { describeRdata, type RData } from './rdata.js';
import { reverseNameV4, reverseNameV6 } from './reverse.js';

/** TTL of records a config gives without one: five minutes, short enough for a lab that changes. */
export const ZONE_DEFAULT_TTL = 300;
/** TTL of lease records (A + PTR): short, so a host that moves is seen at its new address quickly. */
export const LEASE_RECORD_TTL = 60;
/**
 * CNAMEs followed inside local data for one answer. tapnet's choice: a lab
 * chain is one or two long; a loop (a → b → a) stops at the first repeat,
 * this bounds a long acyclic chain.
 */
export const MAX_CNAME_CHAIN = 8;
/** RFC 1123 §2.1 host name label: letters, digits and hyphens, not starting or ending with a hyphen. */
const HOST_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/** static: from the config; default: SOA/NS from the options (a config's own NS replace them); lease: DHCP; reverse: PTR made from an A/AAAA. */
export type RecordSource = 'static' | 'default' | 'lease' | 'reverse';

/** A record as the zone holds it: where it came from, so leases and generated PTRs can be taken out again. */
export interface ZoneRecord extends DnsRecord {
  readonly source: RecordSource;
}

export interface SoaFields {
  readonly mname: string;
  readonly rname: string;
  readonly serial: number;
  readonly refresh: number;
  readonly retry: number;
  readonly expire: number;
  /** RFC 2308 §4: the TTL of negative answers. */
  readonly minimum: number;
}

export interface ZoneOptions {
  /** The forward zone, e.g. "lab.". */
  readonly origin: string;
  /** SOA fields shared by the forward and reverse zones (each zone's SOA is owned by its apex). */
  readonly soa: SoaFields;
  /** Name servers for the NS records at every apex. */
  readonly nameServers: readonly string[];
  /** Reverse zones to serve, e.g. ["0.77.10.in-addr.arpa."] (see reverse.ts). */
  readonly reverseZones?: readonly string[];
  /** TTL of the SOA and NS records (default ZONE_DEFAULT_TTL). */
  readonly ttl?: number;
}

/** What a lookup found: the sections of an authoritative answer. */
export interface ZoneAnswer {
  /** NOERROR or NXDOMAIN (NODATA is NOERROR with no answer of the type asked). */
  readonly rcode: number;
  readonly answers: readonly DnsRecord[];
  readonly authorities: readonly DnsRecord[];
  readonly additionals: readonly DnsRecord[];
  /** A referral to a child zone (RFC 1034 §4.3.2 step 3b): not authoritative, AA clear. */
  readonly referral?: boolean;
  /** An A/AAAA RRset of several records came out rotated (round robin): the next answer differs. */
  readonly rotated?: boolean;
}

interface Node {
  /** The owner name in the case it was first given. */
  readonly name: string;
  readonly sets: Map<number, ZoneRecord[]>;
}

/** The key of a name: its canonical lower-case text (RFC 4343). Names read off the wire are pure ASCII text. */
function keyOf(name: string): string {
  return name.toLowerCase();
}

/** The parent of a key: the text after the first unescaped dot ("a.lab." → "lab."; "lab." → "."). */
function parentKey(key: string): string | undefined {
  if (key === '.') return undefined;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c === 0x5c /* \ */) i += /[0-9]/.test(key[i + 1] ?? '') ? 3 : 1;
    else if (c === 0x2e /* . */) return i + 1 === key.length ? '.' : key.slice(i + 1);
  }
  return '.';
}

/** A name in its one canonical text form (escapes as dig prints them), case kept; undefined when invalid. */
function normalName(name: string): string | undefined {
  const labels = nameToLabels(name);
  return labels.ok ? labelsToName(labels.value) : undefined;
}

/** The record with every name in canonical text, or an error line. */
function normalised(record: DnsRecord): DnsRecord | string {
  const name = normalName(record.name);
  if (name === undefined) return `bad owner name "${record.name}"`;
  const d = record.data;
  const fix = (target: string): string | undefined => normalName(target);
  let data: RData | undefined = d;
  if (d.kind === 'NS' || d.kind === 'CNAME' || d.kind === 'PTR' || d.kind === 'SRV') {
    const target = fix(d.target);
    data = target === undefined ? undefined : { ...d, target };
  } else if (d.kind === 'MX') {
    const exchange = fix(d.exchange);
    data = exchange === undefined ? undefined : { ...d, exchange };
  } else if (d.kind === 'SOA') {
    const [mname, rname] = [fix(d.mname), fix(d.rname)];
    data = mname === undefined || rname === undefined ? undefined : { ...d, mname, rname };
  }
  if (data === undefined) return `bad name in the data of ${name} ${dnsTypeName(record.type)}`;
  return { name, type: record.type, class: record.class, ttl: record.ttl, data };
}

function sameData(a: RData, b: RData): boolean {
  return a.kind === b.kind && describeRdata(a).toLowerCase() === describeRdata(b).toLowerCase();
}

export class Zone {
  readonly origin: string;
  /** Keys of the forward zone and every reverse zone. */
  private readonly apexes = new Set<string>();
  private readonly nodes = new Map<string, Node>();
  /** Empty non-terminals: key → how many names lie below it (RFC 8020). */
  private readonly nonTerminals = new Map<string, number>();
  /** Lease name key → the address it was registered with. */
  private readonly leaseAddresses = new Map<string, Ipv4Address>();
  private soa: SoaFields;
  private readonly ttl: number;
  /** Per RRset ("key|type"), answers given from it so far: its next rotation (round robin). Bounded by the zone's own data. */
  private readonly rotations = new Map<string, number>();

  constructor(options: ZoneOptions) {
    this.origin = canonicalName(options.origin);
    this.soa = options.soa;
    this.ttl = options.ttl ?? ZONE_DEFAULT_TTL;
    for (const apex of [this.origin, ...(options.reverseZones ?? []).map(canonicalName)]) {
      if (this.apexes.has(apex)) continue;
      this.apexes.add(apex);
      this.put({ name: apex, type: DnsType.SOA, class: DnsClass.IN, ttl: this.ttl, data: { kind: 'SOA', ...this.soa }, source: 'default' });
      for (const ns of options.nameServers) {
        this.put({ name: apex, type: DnsType.NS, class: DnsClass.IN, ttl: this.ttl, data: { kind: 'NS', target: canonicalName(ns) }, source: 'default' });
      }
    }
  }

  /** The serial of every SOA here; it goes up by one with every change (RFC 1982 arithmetic). */
  get serial(): number {
    return this.soa.serial;
  }

  /** The apex of the local zone holding `key`, or undefined when no local zone does. */
  private apexOf(key: string): string | undefined {
    for (let k: string | undefined = key; k !== undefined; k = parentKey(k)) {
      if (this.apexes.has(k)) return k;
    }
    return undefined;
  }

  /** True when `name` is inside one of the zones served here (the forwarder gets the rest). */
  isLocal(name: string): boolean {
    return this.apexOf(keyOf(name)) !== undefined;
  }

  // -------------------------------------------------------------------------
  // Changing the data

  /**
   * Adds a record from a config. Returns an error line when the record cannot
   * be served: outside every local zone, a CNAME next to other data, a second
   * SOA. Duplicates are ignored (RFC 2181 §5). A and AAAA records get their PTR.
   * An SOA at an apex replaces the default one; NS records at an apex replace
   * the default name servers.
   */
  add(input: DnsRecord): string | undefined {
    const record = normalised(input);
    if (typeof record === 'string') return record;
    const key = keyOf(record.name);
    const apex = this.apexOf(key);
    if (apex === undefined) return `${record.name} is outside the zones served here (${[...this.apexes].join(', ')})`;
    if (record.class !== DnsClass.IN) return `only class IN is served`;
    if (record.type === DnsType.SOA) {
      if (key !== apex || record.data.kind !== 'SOA') return `an SOA belongs at a zone apex (${apex}), not at ${record.name}`;
      const { mname, rname, serial, refresh, retry, expire, minimum } = record.data;
      this.soa = { mname, rname, serial, refresh, retry, expire, minimum };
      for (const a of this.apexes) this.setSoa(a, record.ttl);
      return undefined;
    }
    const node = this.nodes.get(key);
    if (record.type === DnsType.CNAME && node && [...node.sets.keys()].some((t) => t !== DnsType.CNAME)) {
      return `${record.name} already has data; a CNAME owner holds nothing else (RFC 2181 §10.1)`;
    }
    if (record.type !== DnsType.CNAME && node?.sets.has(DnsType.CNAME)) {
      return `${record.name} is a CNAME; it cannot also hold ${dnsTypeName(record.type)} (RFC 2181 §10.1)`;
    }
    if (record.type === DnsType.CNAME && node?.sets.get(DnsType.CNAME)?.some((r) => !sameData(r.data, record.data))) {
      return `${record.name} already has a CNAME; there can be only one (RFC 1034 §3.6.2)`;
    }
    if (record.type === DnsType.NS && key === apex && node?.sets.get(DnsType.NS)?.every((r) => r.source === 'default')) {
      node.sets.delete(DnsType.NS); // the config names its own name servers
    }
    this.put({ ...record, source: 'static' });
    this.addReverse(record);
    this.bumpSerial();
    return undefined;
  }

  /** Removes records of `type` at `name` (only those with `data`, when given), and their generated PTRs. */
  remove(name: string, type: number, data?: RData): number {
    const key = keyOf(name);
    const set = this.nodes.get(key)?.sets.get(type);
    if (!set) return 0;
    const gone = set.filter((r) => data === undefined || sameData(r.data, data));
    for (const r of gone) this.take(key, r);
    if (gone.length > 0) this.bumpSerial();
    return gone.length;
  }

  /**
   * A DHCP lease for `hostname` at `address`: adds `hostname.<origin>` A
   * `address` and its PTR. `hostname` is a single RFC 1123 label, or a name
   * ending in this zone. A name the config already uses is not taken over;
   * a name a lease already holds moves to the new address. Returns whether
   * the name was registered.
   */
  registerLease(hostname: string, address: Ipv4Address): boolean {
    const name = this.leaseName(hostname);
    if (name === undefined) return false;
    const key = keyOf(name);
    const node = this.nodes.get(key);
    if (node && [...node.sets.values()].some((set) => set.some((r) => r.source !== 'lease'))) return false;
    const previous = this.leaseAddresses.get(key);
    if (previous === address) return true;
    if (previous !== undefined) this.dropLease(key, previous);
    const a: ZoneRecord = { name, type: DnsType.A, class: DnsClass.IN, ttl: LEASE_RECORD_TTL, data: { kind: 'A', address }, source: 'lease' };
    this.put(a);
    this.addReverse(a);
    this.leaseAddresses.set(key, address);
    this.bumpSerial();
    return true;
  }

  /** The lease for `hostname` at `address` ended: its A and PTR go. Returns whether anything was removed. */
  unregisterLease(hostname: string, address: Ipv4Address): boolean {
    const name = this.leaseName(hostname);
    if (name === undefined) return false;
    const key = keyOf(name);
    if (this.leaseAddresses.get(key) !== address) return false;
    this.dropLease(key, address);
    this.bumpSerial();
    return true;
  }

  /** Names registered by leases, with their addresses. */
  leases(): Array<{ readonly name: string; readonly address: Ipv4Address }> {
    return [...this.leaseAddresses].map(([key, address]) => ({ name: this.nodes.get(key)?.name ?? key, address }));
  }

  private leaseName(hostname: string): string | undefined {
    let label = hostname.endsWith('.') ? hostname.slice(0, -1) : hostname;
    const suffix = this.origin === '.' ? '' : '.' + this.origin.slice(0, -1);
    if (suffix && label.toLowerCase().endsWith(suffix)) label = label.slice(0, -suffix.length);
    if (!HOST_LABEL.test(label)) return undefined;
    return this.origin === '.' ? `${label}.` : `${label}.${this.origin}`;
  }

  private dropLease(key: string, address: Ipv4Address): void {
    const set = this.nodes.get(key)?.sets.get(DnsType.A) ?? [];
    for (const r of set.filter((r) => r.source === 'lease' && r.data.kind === 'A' && r.data.address === address)) this.take(key, r);
    this.leaseAddresses.delete(key);
  }

  /** The PTR for an A/AAAA record, when its reverse name lies in a reverse zone served here. */
  private addReverse(record: DnsRecord): void {
    let reverse: string;
    if (record.data.kind === 'A' && record.type === DnsType.A) reverse = reverseNameV4(record.data.address);
    else if (record.data.kind === 'AAAA' && record.type === DnsType.AAAA) reverse = reverseNameV6(record.data.address);
    else return;
    const apex = this.apexOf(reverse);
    if (apex === undefined || apex === this.apexOf(keyOf(record.name))) return;
    this.put({ name: reverse, type: DnsType.PTR, class: DnsClass.IN, ttl: record.ttl, data: { kind: 'PTR', target: record.name }, source: 'reverse' });
  }

  /** Adds one record to its node, ignoring a duplicate. */
  private put(record: ZoneRecord): void {
    const key = keyOf(record.name);
    let node = this.nodes.get(key);
    if (!node) {
      node = { name: record.name, sets: new Map() };
      this.nodes.set(key, node);
      this.countNonTerminals(key, +1);
    }
    const set = node.sets.get(record.type);
    if (!set) node.sets.set(record.type, [record]);
    else if (!set.some((r) => sameData(r.data, record.data))) set.push(record);
  }

  /** Removes one record (and, for A/AAAA, the PTR generated for it); a node left empty goes. */
  private take(key: string, record: ZoneRecord): void {
    const node = this.nodes.get(key);
    const set = node?.sets.get(record.type);
    if (!node || !set) return;
    const rest = set.filter((r) => r !== record);
    if (rest.length > 0) node.sets.set(record.type, rest);
    else node.sets.delete(record.type);
    if (node.sets.size === 0) {
      this.nodes.delete(key);
      this.countNonTerminals(key, -1);
    }
    const reverse =
      record.data.kind === 'A' ? reverseNameV4(record.data.address) : record.data.kind === 'AAAA' ? reverseNameV6(record.data.address) : undefined;
    if (reverse === undefined) return;
    for (const ptr of this.nodes.get(reverse)?.sets.get(DnsType.PTR) ?? []) {
      if (ptr.source === 'reverse' && ptr.data.kind === 'PTR' && keyOf(ptr.data.target) === key) this.take(reverse, ptr);
    }
  }

  /** Every name strictly between `key` and its apex is a non-terminal while `key` exists. */
  private countNonTerminals(key: string, delta: number): void {
    const apex = this.apexOf(key);
    for (let k = parentKey(key); k !== undefined && k !== apex; k = parentKey(k)) {
      const n = (this.nonTerminals.get(k) ?? 0) + delta;
      if (n > 0) this.nonTerminals.set(k, n);
      else this.nonTerminals.delete(k);
    }
  }

  private bumpSerial(): void {
    this.soa = { ...this.soa, serial: (this.soa.serial + 1) >>> 0 };
    for (const apex of this.apexes) this.setSoa(apex, undefined);
  }

  private setSoa(apex: string, ttl: number | undefined): void {
    const node = this.nodes.get(apex);
    const old = node?.sets.get(DnsType.SOA)?.[0];
    if (!node || !old) return;
    node.sets.set(DnsType.SOA, [{ ...old, ttl: ttl ?? old.ttl, data: { kind: 'SOA', ...this.soa } }]);
  }

  // -------------------------------------------------------------------------
  // Lookup (RFC 1034 §4.3.2, for an authoritative server)

  /**
   * Answers `name`/`type` (class IN) from local data, or undefined when the
   * name is in no local zone. `name` may be in any case; answers carry the
   * stored case (the response writer compresses an owner equal to the
   * question into a pointer to it, so the client sees its own spelling).
   */
  lookup(name: string, type: number): ZoneAnswer | undefined {
    let key = keyOf(name);
    let apex = this.apexOf(key);
    if (apex === undefined) return undefined;
    const answers: DnsRecord[] = [];
    const seen = new Set<string>();
    for (let hop = 0; ; hop++) {
      const cut = this.cutAbove(key, apex);
      if (cut) {
        // Step 3b: a referral, unless a CNAME chain led here: then the chain so far is the answer.
        if (hop > 0) return { rcode: 0, answers, authorities: [], additionals: [] };
        const ns = cut.sets.get(DnsType.NS)!;
        return { rcode: 0, answers, authorities: ns, additionals: this.additionalFor(ns), referral: true };
      }
      const node = this.nodes.get(key);
      if (!node) {
        // RFC 8020: a name with names below it exists, it just has no data.
        const rcode = this.nonTerminals.has(key) ? 0 : 3;
        return { rcode, answers, authorities: [this.negativeSoa(apex)], additionals: [] };
      }
      const matched = type === DnsType.ANY ? anyAnswer(node.sets) : node.sets.get(type);
      if (matched && matched.length > 0) {
        const rotate = matched.length > 1 && (matched[0]!.type === DnsType.A || matched[0]!.type === DnsType.AAAA);
        if (rotate) {
          const setKey = `${key}|${matched[0]!.type}`;
          const n = this.rotations.get(setKey) ?? 0;
          this.rotations.set(setKey, n + 1);
          const first = n % matched.length;
          answers.push(...matched.slice(first), ...matched.slice(0, first));
        } else answers.push(...matched);
        return { rcode: 0, answers, authorities: [], additionals: this.additionalFor(matched), ...(rotate ? { rotated: true } : {}) };
      }
      const cname = type !== DnsType.CNAME ? node.sets.get(DnsType.CNAME)?.[0] : undefined;
      if (!cname || cname.data.kind !== 'CNAME') {
        return { rcode: 0, answers, authorities: [this.negativeSoa(apex)], additionals: [] };
      }
      // Step 3a: copy the CNAME, continue with its target while it is local data.
      answers.push(cname);
      seen.add(key);
      key = keyOf(cname.data.target);
      const next = this.apexOf(key);
      if (next === undefined || seen.has(key) || hop + 1 >= MAX_CNAME_CHAIN) {
        return { rcode: 0, answers, authorities: [], additionals: [] };
      }
      apex = next;
    }
  }

  /** RFC 1034 §4.2.1: the highest zone cut (a node below `apex` holding NS) at or above `key`, if any. */
  private cutAbove(key: string, apex: string): Node | undefined {
    let found: Node | undefined;
    for (let k: string | undefined = key; k !== undefined && k !== apex; k = parentKey(k)) {
      const node = this.nodes.get(k);
      if (node?.sets.has(DnsType.NS)) found = node;
    }
    return found;
  }

  /** RFC 2308 §3: the SOA in a negative answer, its TTL the smaller of its own and MINIMUM. */
  private negativeSoa(apex: string): DnsRecord {
    const soa = this.nodes.get(apex)!.sets.get(DnsType.SOA)![0]!;
    return { name: soa.name, type: soa.type, class: soa.class, ttl: Math.min(soa.ttl, this.soa.minimum), data: soa.data };
  }

  /** RFC 1034 §4.3.2 step 6 (and RFC 2782 for SRV): addresses of the hosts the answer names, when local. */
  private additionalFor(records: readonly DnsRecord[]): DnsRecord[] {
    const out: DnsRecord[] = [];
    const done = new Set<string>();
    for (const r of records) {
      const target = r.data.kind === 'MX' ? r.data.exchange : r.data.kind === 'SRV' || r.data.kind === 'NS' ? r.data.target : undefined;
      if (target === undefined) continue;
      const key = keyOf(target);
      if (done.has(key)) continue;
      done.add(key);
      const node = this.nodes.get(key);
      if (!node) continue;
      out.push(...(node.sets.get(DnsType.A) ?? []), ...(node.sets.get(DnsType.AAAA) ?? []));
    }
    return out;
  }

  // -------------------------------------------------------------------------
  // For `tapnet show dns`

  /** Every record, zone by zone, apex first. */
  records(): ZoneRecord[] {
    const out: ZoneRecord[] = [];
    for (const node of this.nodes.values()) for (const set of node.sets.values()) out.push(...set);
    const order = (r: ZoneRecord): string => {
      const k = keyOf(r.name);
      const apex = this.apexOf(k) ?? '';
      const type = r.type === DnsType.SOA ? 0 : r.type; // the SOA first, as in a zone file
      return `${apex === this.origin ? 0 : 1}${apex} ${k === apex ? '' : k} ${String(type).padStart(5, '0')}`;
    };
    return out.sort((a, b) => order(a).localeCompare(order(b)));
  }

  /** The zone in dig's presentation, one record a line, with where each came from. */
  describe(): string {
    return this.records()
      .map((r) => `${describeRecord(r)}${r.source === 'lease' || r.source === 'reverse' ? `   ; ${r.source}` : ''}\n`)
      .join('');
  }
}

/**
 * RFC 8482 §4.1: an ANY query is answered with one RRset of the name, not all of them (ANY answers were
 * the amplification of choice, and clients cannot rely on getting everything anyway). Which one: the
 * lowest type number present, so the choice is the same whatever order the zone was written in (A first
 * where there is one). RFC 8482 §4.2's synthesized HINFO "RFC8482" is the other allowed answer; a lab zone
 * has real data at hand, which a learner's `dig ANY` finds more useful.
 */
function anyAnswer(sets: ReadonlyMap<number, DnsRecord[]>): DnsRecord[] | undefined {
  let lowest: number | undefined;
  for (const [type, records] of sets) if (records.length > 0 && (lowest === undefined || type < lowest)) lowest = type;
  return lowest === undefined ? undefined : sets.get(lowest);
}
