/**
 * Import and export policies: the small rule language of a lab file's
 * `bgp:` block, evaluated top to bottom, first match wins (like a BIRD
 * filter or an FRR route-map with prefix lists and AS-path access lists).
 *
 *   import:
 *     - { match: { prefix: 10.0.0.0/8, le: 24 }, action: reject }
 *     - { match: { asPath: "_65010_" }, set: { localPref: 200 } }
 *     - { set: { community: ["65001:100"] } }       # no match: every route
 *
 * `asPath` is a regular expression over the path as `show ip bgp` prints it
 * ("65001 65002"), with `_` standing for a boundary (Cisco's notation).
 * A route no rule matches is accepted unchanged.
 */
import { formatAsPath, prependAs } from './as-path.js';
import type { PathAttributes } from './attributes.js';
import { prefixCovers, type Prefix } from './prefix.js';

export interface PolicyRule {
  readonly match?: { readonly prefix?: Prefix; readonly le?: number; readonly asPath?: RegExp; readonly community?: number };
  readonly action?: 'accept' | 'reject';
  readonly set?: { readonly localPref?: number; readonly med?: number; readonly community?: readonly number[]; readonly prepend?: number };
}

/** `_65010_` → a RegExp where `_` matches the start, the end or a space. */
export function asPathRegExp(text: string): RegExp {
  return new RegExp(text.replace(/_/g, '(^|$| )'));
}

function matches(rule: PolicyRule, prefix: Prefix, a: PathAttributes): boolean {
  const m = rule.match;
  if (!m) return true;
  if (m.prefix && (!prefixCovers(m.prefix, prefix) || prefix.length > (m.le ?? m.prefix.length))) return false;
  if (m.asPath && !m.asPath.test(formatAsPath(a.asPath ?? []))) return false;
  if (m.community !== undefined && !(a.communities ?? []).includes(m.community)) return false;
  return true;
}

/** The attributes after the policy, or undefined when it rejects the route. */
export function applyPolicy(rules: readonly PolicyRule[], prefix: Prefix, a: PathAttributes, localAs: number): PathAttributes | undefined {
  for (const rule of rules) {
    if (!matches(rule, prefix, a)) continue;
    if (rule.action === 'reject') return undefined;
    const s = rule.set;
    if (!s) return a;
    const out: PathAttributes = { ...a };
    if (s.localPref !== undefined) out.localPref = s.localPref;
    if (s.med !== undefined) out.med = s.med;
    if (s.community) out.communities = [...new Set([...(a.communities ?? []), ...s.community])];
    if (s.prepend) {
      let path = a.asPath ?? [];
      for (let i = 0; i < s.prepend; i++) path = prependAs(path, localAs);
      out.asPath = [...path];
    }
    return out;
  }
  return a;
}
