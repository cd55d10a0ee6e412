/**
 * The CHAOS class's server-identity names (class CH, type TXT): `version.bind`
 * and `hostname.bind` (BIND's, 1990s), `id.server` and `version.server`
 * (RFC 4892 §2, which documents the convention and notes a server may
 * withhold the answer).
 *
 * tapnet's choice: answer, with the text "tapnet" and no version number. A
 * learner can see that a CH query reaches the server and what it says (NSD,
 * Unbound and dnsmasq answer by default too); a version number would only help
 * someone matching a release to its known bugs, which is why BIND operators
 * hide it (`version "none"`). Other CH names fall through to REFUSED.
 */
import { DnsClass, DnsRcode, DnsType } from './constants.js';
import type { DnsQuestion, DnsRecord } from './message.js';

/** What every identity name answers. */
export const CHAOS_IDENTITY_TEXT = 'tapnet';
/** Lower-case, fully qualified. */
export const CHAOS_IDENTITY_NAMES: ReadonlySet<string> = new Set(['version.bind.', 'hostname.bind.', 'id.server.', 'version.server.']);

export interface ChaosAnswer {
  readonly rcode: number;
  readonly answers: readonly DnsRecord[];
  readonly authorities: readonly DnsRecord[];
  readonly additionals: readonly DnsRecord[];
}

/** The answer to a CH question, or undefined when the name is not one of ours (the server then REFUSEs). */
export function answerChaos(question: DnsQuestion): ChaosAnswer | undefined {
  const name = question.name.toLowerCase();
  if (!CHAOS_IDENTITY_NAMES.has(name.endsWith('.') ? name : `${name}.`)) return undefined;
  // TXT (or ANY) gets the string; another type at the name is NODATA. TTL 0: nothing to cache (BIND does the same).
  const answers: DnsRecord[] =
    question.type === DnsType.TXT || question.type === DnsType.ANY
      ? [{ name: question.name, type: DnsType.TXT, class: DnsClass.CH, ttl: 0, data: { kind: 'TXT', strings: [new TextEncoder().encode(CHAOS_IDENTITY_TEXT)] } }]
      : [];
  return { rcode: DnsRcode.NOERROR, answers, authorities: [], additionals: [] };
}
