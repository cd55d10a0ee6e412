/**
 * DHCP bindings: the address pool of one subnet, and the lease file.
 *
 * Read first: RFC 2131 §2.2 (dynamic allocation: a server reuses addresses
 * whose leases ended, preferring to give a client back the address it had),
 * §4.3.1 (the order in which an address is chosen, quoted on `choose`), §3.1
 * step 4 ("The server selected in the DHCPREQUEST message commits the binding
 * for the client to persistent storage and responds with a DHCPACK").
 *
 * A pool keeps one record per address it ever handed out, so its memory is
 * bounded by the pool size no matter how many clients (or forged MACs) ask:
 * starvation fills the pool, never the heap. Records are never deleted, only
 * moved to another client, so a returning client finds its old address.
 *
 *   offered ──REQUEST──▶ bound ──RELEASE──▶ released
 *      │ (hold lapses)     │ (lease ends)      (free, remembered for the client)
 *      ▼                   ▼
 *    free               expired              declined: free again after a probation
 *
 * Time is the injected monotonic clock (`now`, ms). The lease file needs wall
 * time, so it stores Unix seconds and the server converts on load and save.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Instant } from '../../core/time.js';
import { formatIpv4, inCidr, parseIpv4, type Ipv4Address, type Ipv4Cidr } from '../../l3/ipv4/address.js';
import { formatMac, parseMac, type MacAddress } from '../../l2/mac-address.js';

/** One record per address: memory is bounded by the pool (a /16's worth at most). */
export const DHCP_POOL_MAX_ADDRESSES = 65_536;

export type LeaseState = 'offered' | 'bound' | 'released' | 'expired' | 'declined';

export interface Lease {
  readonly address: Ipv4Address;
  /**
   * Whose record this is (RFC 2131 §4.2: "the combination of 'client
   * identifier' or 'chaddr' and assigned network address constitute a
   * unique identifier for the client's lease"): 'id:' + option 61 in hex when
   * the client sent one, else 'hw:' + chaddr. Empty for a declined address.
   */
  clientKey: string;
  mac: MacAddress;
  /** Option 61 in hex, when the client sent one. */
  clientId: string | undefined;
  /** A DNS label (see `sanitizeHostname`), from option 12 or a static lease. */
  hostname: string | undefined;
  state: LeaseState;
  /** When the offer lapses, the binding ends, or a declined address is usable again. */
  expiresAt: Instant;
  /** Last state change: among free addresses, the one left alone longest is reused first. */
  changedAt: Instant;
}

export interface StaticLease {
  readonly mac: MacAddress;
  readonly address: Ipv4Address;
  readonly hostname?: string;
}

export interface LeasePoolConfig {
  /** The subnet the pool serves (the server's interface address and prefix). */
  readonly subnet: Ipv4Cidr;
  /** First and last address handed out dynamically (inclusive). */
  readonly first: Ipv4Address;
  readonly last: Ipv4Address;
  /** Never handed out from the pool (the server's own address, the router's). */
  readonly reserved?: Iterable<Ipv4Address>;
  /** Fixed address per MAC; may be inside or outside [first, last] but must be in the subnet. */
  readonly staticLeases?: readonly StaticLease[];
}

/** The client key for a request (RFC 2131 §4.2): option 61 if present, else chaddr. */
export function clientKeyOf(mac: MacAddress, clientId: Uint8Array | undefined): string {
  return clientId && clientId.length > 0 ? `id:${Buffer.from(clientId).toString('hex')}` : `hw:${mac.toString(16).padStart(12, '0')}`;
}

/**
 * The addresses of one subnet and who holds them. Methods take `now`; the
 * pool never reads a clock and never arms a timer (the server does).
 */
export class LeasePool {
  readonly subnet: Ipv4Cidr;
  readonly first: Ipv4Address;
  readonly last: Ipv4Address;
  private readonly byAddress = new Map<Ipv4Address, Lease>();
  private readonly byClient = new Map<string, Lease>();
  private readonly reserved: Set<Ipv4Address>;
  private readonly staticByMac = new Map<MacAddress, StaticLease>();
  private readonly staticByAddress = new Map<Ipv4Address, StaticLease>();
  /** Addresses below this one have a record; above it, none was ever handed out. */
  private freshCursor: Ipv4Address;

  constructor(config: LeasePoolConfig) {
    const { subnet, first, last } = config;
    if (first > last || !inCidr(first, subnet) || !inCidr(last, subnet)) {
      throw new RangeError(`DHCP pool ${formatIpv4(first)}-${formatIpv4(last)} is not inside ${formatIpv4(subnet.address)}/${subnet.prefixLength}`);
    }
    if (last - first + 1 > DHCP_POOL_MAX_ADDRESSES) throw new RangeError(`DHCP pool larger than ${DHCP_POOL_MAX_ADDRESSES} addresses`);
    this.subnet = subnet;
    this.first = first;
    this.last = last;
    this.freshCursor = first;
    this.reserved = new Set(config.reserved ?? []);
    for (const s of config.staticLeases ?? []) {
      if (!inCidr(s.address, subnet)) throw new RangeError(`static lease ${formatIpv4(s.address)} is not in the pool's subnet`);
      this.staticByMac.set(s.mac, s);
      this.staticByAddress.set(s.address, s);
      this.reserved.add(s.address);
    }
  }

  /** True when `address` belongs to this pool's subnet (a client's ciaddr or requested address is "on the right network"). */
  onSubnet(address: Ipv4Address): boolean {
    return inCidr(address, this.subnet);
  }

  staticFor(mac: MacAddress): StaticLease | undefined {
    return this.staticByMac.get(mac);
  }

  /** The client's record, in whatever state. */
  findClient(clientKey: string): Lease | undefined {
    return this.byClient.get(clientKey);
  }

  at(address: Ipv4Address): Lease | undefined {
    return this.byAddress.get(address);
  }

  /** True when the record still holds its address: an offer not lapsed, a binding not ended, a declined address on probation. */
  isActive(lease: Lease, now: Instant): boolean {
    return (lease.state === 'offered' || lease.state === 'bound' || lease.state === 'declined') && lease.expiresAt > now;
  }

  /** True when the address could be given to `clientKey` now. */
  availableTo(address: Ipv4Address, clientKey: string, mac: MacAddress, now: Instant): boolean {
    if (!this.onSubnet(address)) return false;
    const fixed = this.staticByAddress.get(address);
    if (fixed) return fixed.mac === mac;
    if (address < this.first || address > this.last || this.reserved.has(address)) return false;
    const lease = this.byAddress.get(address);
    return !lease || lease.clientKey === clientKey || !this.isActive(lease, now);
  }

  /**
   * RFC 2131 §4.3.1: "If an address is available, the new address SHOULD be
   * chosen as follows:
   *   - The client's current address as recorded in the client's current binding, ELSE
   *   - The client's previous address as recorded in the client's (now expired or
   *     released) binding, if that address is in the server's pool of available
   *     addresses and not already allocated, ELSE
   *   - The address requested in the 'Requested IP Address' option, if that address
   *     is valid and not already allocated, ELSE
   *   - A new address allocated from the server's pool of available addresses"
   * A static lease for the MAC comes before all of them. Undefined: the pool is exhausted.
   */
  choose(clientKey: string, mac: MacAddress, requested: Ipv4Address | undefined, now: Instant): Ipv4Address | undefined {
    const fixed = this.staticByMac.get(mac);
    if (fixed) return fixed.address;
    const own = this.byClient.get(clientKey);
    if (own && own.state !== 'declined' && this.availableTo(own.address, clientKey, mac, now)) return own.address;
    if (requested !== undefined && this.availableTo(requested, clientKey, mac, now)) return requested;
    return this.freshAddress() ?? this.leastRecentlyUsedFree(now);
  }

  /** An address no record mentions: the cursor only moves forward, since records are never deleted. */
  private freshAddress(): Ipv4Address | undefined {
    while (this.freshCursor <= this.last) {
      const a = this.freshCursor;
      if (!this.reserved.has(a) && !this.byAddress.has(a)) return a;
      this.freshCursor++;
    }
    return undefined;
  }

  /** Reuse (RFC 2131 §2.2): the free address whose record changed longest ago, so recent owners keep theirs longest. */
  private leastRecentlyUsedFree(now: Instant): Ipv4Address | undefined {
    let best: Lease | undefined;
    for (const lease of this.byAddress.values()) {
      if (this.isActive(lease, now) || this.reserved.has(lease.address)) continue;
      if (!best || lease.changedAt < best.changedAt) best = lease;
    }
    return best?.address;
  }

  /** Records an offer, holding the address for `holdMs`. A client's live binding stays bound. */
  offer(client: ClientIdentity, address: Ipv4Address, now: Instant, holdMs: number): Lease {
    const current = this.byAddress.get(address);
    if (current && current.clientKey === client.key && current.state === 'bound' && current.expiresAt > now) return current;
    return this.assign(client, address, 'offered', now + holdMs, now);
  }

  /**
   * Binds `address` to the client until `now + leaseMs`. Returns the lease and
   * the client's previous binding on another address, which this one replaces
   * (the caller reports it ended).
   */
  bind(client: ClientIdentity, address: Ipv4Address, hostname: string | undefined, now: Instant, leaseMs: number): { lease: Lease; replaced?: Lease } {
    const previous = this.byClient.get(client.key);
    let replaced: Lease | undefined;
    if (previous && previous.address !== address && previous.state === 'bound' && previous.expiresAt > now) {
      this.setState(previous, 'released', now, now);
      replaced = previous;
    }
    const lease = this.assign(client, address, 'bound', now + leaseMs, now);
    lease.hostname = hostname;
    return { lease, replaced };
  }

  /** RFC 2131 §4.3.4: the client gives the address back; the record stays for its next visit. */
  release(lease: Lease, now: Instant): void {
    this.setState(lease, 'released', now, now);
  }

  /**
   * RFC 2131 §4.3.3: "the server MUST mark the network address as not
   * available and SHOULD notify the local system administrator". It becomes
   * usable again after `probationMs` (someone else is using it, probably statically).
   */
  decline(lease: Lease, now: Instant, probationMs: number): void {
    if (this.byClient.get(lease.clientKey) === lease) this.byClient.delete(lease.clientKey);
    lease.clientKey = '';
    lease.hostname = undefined;
    this.setState(lease, 'declined', now + probationMs, now);
  }

  /** Moves bindings whose time has come to 'expired' and returns them (for DNS removal and the lease file). */
  expire(now: Instant): Lease[] {
    const ended: Lease[] = [];
    for (const lease of this.byAddress.values()) {
      if (lease.state === 'bound' && lease.expiresAt <= now) {
        this.setState(lease, 'expired', lease.expiresAt, now);
        ended.push(lease);
      }
    }
    return ended;
  }

  /** The earliest end of a live binding (the server arms one timer for it). */
  nextExpiry(): Instant | undefined {
    let next: Instant | undefined;
    for (const lease of this.byAddress.values()) {
      if (lease.state === 'bound' && (next === undefined || lease.expiresAt < next)) next = lease.expiresAt;
    }
    return next;
  }

  /** Every record, by address. */
  leases(): Lease[] {
    return [...this.byAddress.values()].sort((a, b) => a.address - b.address);
  }

  /** Live bindings whose hostname is `hostname` (a name maps to one client). */
  boundWithHostname(hostname: string, now: Instant): Lease | undefined {
    for (const lease of this.byAddress.values()) {
      if (lease.hostname === hostname && lease.state === 'bound' && lease.expiresAt > now) return lease;
    }
    return undefined;
  }

  /** How many addresses are taken now (offered, bound or on probation): the gauge for starvation. */
  activeCount(now: Instant): number {
    let n = 0;
    for (const lease of this.byAddress.values()) if (this.isActive(lease, now)) n++;
    return n;
  }

  private assign(client: ClientIdentity, address: Ipv4Address, state: LeaseState, expiresAt: Instant, now: Instant): Lease {
    let lease = this.byAddress.get(address);
    if (lease && lease.clientKey !== client.key && this.byClient.get(lease.clientKey) === lease) this.byClient.delete(lease.clientKey);
    const previous = this.byClient.get(client.key);
    // A client holds one record: an offer it moves away from is free at once.
    if (previous && previous !== lease && previous.state === 'offered') this.setState(previous, 'expired', now, now);
    if (!lease) {
      lease = { address, clientKey: client.key, mac: client.mac, clientId: client.clientId, hostname: undefined, state, expiresAt, changedAt: now };
      this.byAddress.set(address, lease);
    } else {
      if (lease.clientKey !== client.key) lease.hostname = undefined;
      lease.clientKey = client.key;
      lease.mac = client.mac;
      lease.clientId = client.clientId;
      this.setState(lease, state, expiresAt, now);
    }
    this.byClient.set(client.key, lease);
    return lease;
  }

  private setState(lease: Lease, state: LeaseState, expiresAt: Instant, now: Instant): void {
    lease.state = state;
    lease.expiresAt = expiresAt;
    lease.changedAt = now;
  }
}

/** Who is asking: the key, the MAC (chaddr) and the raw client identifier. */
export interface ClientIdentity {
  readonly key: string;
  readonly mac: MacAddress;
  readonly clientId: string | undefined;
}

export function clientIdentity(mac: MacAddress, clientId: Uint8Array | undefined): ClientIdentity {
  return {
    key: clientKeyOf(mac, clientId),
    mac,
    clientId: clientId && clientId.length > 0 ? Buffer.from(clientId).toString('hex') : undefined,
  };
}

// ---------------------------------------------------------------------------
// The lease file
// ---------------------------------------------------------------------------

/**
 * One binding in the file. The format is dnsmasq's, one lease per line, so
 * it reads the same way:  `1735689600 02:00:00:00:00:01 10.77.0.100 laptop 01020000000001`
 * (expiry in Unix seconds, MAC, address, hostname or '*', client-id in hex or '*').
 */
export interface LeaseRecord {
  readonly expiresUnixSeconds: number;
  readonly mac: MacAddress;
  readonly address: Ipv4Address;
  readonly hostname: string | undefined;
  readonly clientId: string | undefined;
}

export interface LeaseFileError {
  readonly line: number;
  readonly reason: string;
}

const LEASE_FILE_HEADER = '# tapnet DHCP leases: expires(unix s) mac address hostname|* client-id|*\n';
/** RFC 1035 §2.3.4 / RFC 1123 §2.1: a label of letters, digits and inner hyphens, at most 63 octets. */
const HOSTNAME_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const HEX = /^([0-9a-f]{2}){1,255}$/;

export function formatLeaseFile(records: readonly LeaseRecord[]): string {
  let out = LEASE_FILE_HEADER;
  for (const r of records) {
    out += `${r.expiresUnixSeconds} ${formatMac(r.mac)} ${formatIpv4(r.address)} ${r.hostname ?? '*'} ${r.clientId ?? '*'}\n`;
  }
  return out;
}

/**
 * Reads the file's text. Never throws: a line that does not parse is
 * skipped and reported, so one bad line (a hand edit) costs one lease, not all.
 */
export function parseLeaseFile(text: string): { records: LeaseRecord[]; errors: LeaseFileError[] } {
  const records: LeaseRecord[] = [];
  const errors: LeaseFileError[] = [];
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const fields = line.split(/\s+/);
    const bad = (reason: string): void => void errors.push({ line: i + 1, reason });
    if (fields.length !== 5) return bad(`${fields.length} fields, expected 5`);
    const [expiry, macText, addressText, hostname, clientId] = fields as [string, string, string, string, string];
    if (!/^[0-9]{1,12}$/.test(expiry)) return bad(`bad expiry '${expiry}'`);
    const mac = parseMac(macText);
    if (mac === undefined) return bad(`bad MAC '${macText}'`);
    const address = parseIpv4(addressText);
    if (address === undefined) return bad(`bad address '${addressText}'`);
    if (hostname !== '*' && !HOSTNAME_LABEL.test(hostname)) return bad(`bad hostname '${hostname}'`);
    if (clientId !== '*' && !HEX.test(clientId)) return bad(`bad client-id '${clientId}'`);
    records.push({
      expiresUnixSeconds: Number(expiry),
      mac,
      address,
      hostname: hostname === '*' ? undefined : hostname,
      clientId: clientId === '*' ? undefined : clientId,
    });
  });
  return { records, errors };
}

/**
 * Turns what a client sent in option 12 into a DNS label, or undefined:
 * lower case, the first label of an FQDN, characters outside [a-z0-9-]
 * dropped, at most 63 octets (RFC 1123 §2.1, RFC 1035 §2.3.4). dnsmasq does the same.
 */
export function sanitizeHostname(name: string | undefined): string | undefined {
  if (name === undefined) return undefined;
  const label = (name.split('.')[0] ?? '')
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '')
    .replace(/^-+/, '')
    .slice(0, 63)
    .replace(/-+$/, '');
  return HOSTNAME_LABEL.test(label) ? label : undefined;
}

/** The file operations `writeFileAtomic` uses; tests inject failures here to simulate a crash mid-write. */
export interface AtomicFs {
  openSync(path: string, flags: string, mode?: number): number;
  writeSync(fd: number, data: Uint8Array, offset: number, length: number): number;
  fsyncSync(fd: number): void;
  closeSync(fd: number): void;
  renameSync(from: string, to: string): void;
}

export const nodeFs: AtomicFs = { openSync, writeSync, fsyncSync, closeSync, renameSync };

/** Where the next version is written before it replaces the file. */
export function tempPathFor(path: string): string {
  return `${path}.tmp`;
}

/**
 * Replaces `path` with `text` so that a crash at any instant leaves either
 * the old file or the new one, never a mix: write a temporary file in the
 * same directory, fsync it (data on disk before the name points at it),
 * rename it over the old one (atomic on POSIX, rename(2)), then fsync the
 * directory (the rename itself on disk). Throws the I/O error, with the old
 * file untouched.
 */
export function writeFileAtomic(path: string, text: string, fs: AtomicFs = nodeFs): void {
  const temp = tempPathFor(path);
  const data = Buffer.from(text, 'utf8');
  const fd = fs.openSync(temp, 'w', 0o644);
  try {
    let written = 0;
    while (written < data.length) written += fs.writeSync(fd, data, written, data.length - written);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(temp, path);
  let dir: number | undefined;
  try {
    dir = fs.openSync(dirname(path), 'r');
    fs.fsyncSync(dir);
  } catch {
    // Some filesystems refuse fsync on a directory; the rename has still happened.
  } finally {
    if (dir !== undefined) fs.closeSync(dir);
  }
}

/** The records in `path`; a missing file is an empty one. Only the real file is read, never a leftover temp file. */
export function readLeaseFile(path: string): { records: LeaseRecord[]; errors: LeaseFileError[] } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], errors: [] };
    return { records: [], errors: [{ line: 0, reason: (e as Error).message }] };
  }
  return parseLeaseFile(text);
}
