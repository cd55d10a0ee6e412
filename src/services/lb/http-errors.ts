/**
 * The answers the reverse proxy makes itself, and why: each a plain-text
 * body a learner can read with `curl -i`, naming the backend and the cause,
 * like nginx's and HAProxy's error pages but specific.
 *
 *   400 Bad Request              the request did not parse (RFC 9112 §2.2)
 *   408 Request Timeout          the request headers took longer than headerMs (slowloris)
 *   431 Request Header Fields Too Large   more than 16 KB of headers (RFC 6585 §5)
 *   502 Bad Gateway              the backend refused, reset, or sent no valid response (RFC 9110 §15.6.3)
 *   503 Service Unavailable      no backend may take the request: all down, draining or removed (§15.6.4)
 *   504 Gateway Timeout          the backend sent no response headers within the route's timeout (§15.6.5)
 *
 * Pure: no sockets, so the mapping is tested on its own (tests/unit/services/lb/http-errors.test.ts).
 */

export type ProxyFailure =
  | { readonly kind: 'badRequest'; readonly detail: string }
  | { readonly kind: 'headerTimeout'; readonly timeoutMs: number }
  | { readonly kind: 'headersTooLarge'; readonly limit: number }
  | { readonly kind: 'noBackend'; readonly service: string; readonly why: string }
  | { readonly kind: 'backendError'; readonly backend: string; readonly endpoint: string; readonly detail: string }
  | { readonly kind: 'backendTimeout'; readonly backend: string; readonly endpoint: string; readonly timeoutMs: number };

export interface ProxyErrorResponse {
  readonly status: 400 | 408 | 431 | 502 | 503 | 504;
  readonly reason: string;
  readonly body: string;
}

/** Node's http parser error codes → what went wrong, for a 400 body. */
export function describeParseError(code: string | undefined): string {
  switch (code) {
    case 'HPE_INVALID_METHOD':
      return 'unknown method';
    case 'HPE_INVALID_URL':
      return 'bad request target';
    case 'HPE_INVALID_VERSION':
      return 'bad HTTP version';
    case 'HPE_INVALID_HEADER_TOKEN':
      return 'bad header field';
    case 'HPE_INVALID_CONSTANT':
      return 'not HTTP';
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
    case 'HPE_INVALID_CONTENT_LENGTH':
      return 'bad Content-Length';
    case 'HPE_INVALID_TRANSFER_ENCODING':
      return 'bad Transfer-Encoding';
    default:
      return code ? `malformed request (${code})` : 'malformed request';
  }
}

export function proxyErrorResponse(f: ProxyFailure): ProxyErrorResponse {
  switch (f.kind) {
    case 'badRequest':
      return { status: 400, reason: 'Bad Request', body: `400 Bad Request: ${f.detail}\n` };
    case 'headerTimeout':
      return { status: 408, reason: 'Request Timeout', body: `408 Request Timeout: the request headers did not arrive within ${f.timeoutMs} ms\n` };
    case 'headersTooLarge':
      return { status: 431, reason: 'Request Header Fields Too Large', body: `431 Request Header Fields Too Large: more than ${f.limit} bytes of headers\n` };
    case 'noBackend':
      return { status: 503, reason: 'Service Unavailable', body: `503 Service Unavailable: no backend of service ${f.service} can take the request: ${f.why}\n` };
    case 'backendError':
      return { status: 502, reason: 'Bad Gateway', body: `502 Bad Gateway: backend ${f.backend} (${f.endpoint}): ${f.detail}\n` };
    case 'backendTimeout':
      return { status: 504, reason: 'Gateway Timeout', body: `504 Gateway Timeout: backend ${f.backend} (${f.endpoint}) sent no response within ${f.timeoutMs} ms\n` };
  }
}

/** The response as bytes, for a socket the HTTP server gave up on (parse errors reach no ServerResponse). */
export function rawErrorResponse(f: ProxyFailure): string {
  const r = proxyErrorResponse(f);
  return `HTTP/1.1 ${r.status} ${r.reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(r.body)}\r\nConnection: close\r\n\r\n${r.body}`;
}

/** Hop-by-hop fields (RFC 9110 §7.6.1): they describe one connection and are never forwarded. */
export const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-authenticate', 'proxy-authorization']);

/**
 * RFC 7239 §4 `for=` value: an IPv4 address as is, an IPv6 one quoted in
 * brackets (§6: "IPv6 addresses ... MUST be enclosed in square brackets" and
 * the value quoted, since it holds ':').
 */
export function forwardedNode(address: string): string {
  return address.includes(':') ? `"[${address}]"` : address;
}

/** `Forwarded: for=...;host=...;proto=http` (RFC 7239 §4), quoting the host when it is not a token. */
export function forwardedElement(client: string, host: string | undefined, proto: 'http'): string {
  const parts = [`for=${forwardedNode(client)}`];
  if (host) parts.push(`host=${/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(host) ? host : `"${host.replace(/["\\]/g, '\\$&')}"`}`);
  parts.push(`proto=${proto}`);
  return parts.join(';');
}
