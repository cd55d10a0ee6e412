/** What the reverse proxy answers itself, and the Forwarded header it adds (RFC 7239). */
import { describe, expect, it } from 'vitest';
import { describeParseError, forwardedElement, proxyErrorResponse, rawErrorResponse } from '../../../../src/services/lb/http-errors.js';

describe('proxy error mapping', () => {
  it('maps each failure to its status, with a body naming the backend and the cause', () => {
    expect(proxyErrorResponse({ kind: 'noBackend', service: 'web', why: 'web1 down (connection refused)' })).toEqual({
      status: 503,
      reason: 'Service Unavailable',
      body: '503 Service Unavailable: no backend of service web can take the request: web1 down (connection refused)\n',
    });
    const e502 = proxyErrorResponse({ kind: 'backendError', backend: 'web2', endpoint: '10.30.0.12:80', detail: 'connection reset' });
    expect(e502.status).toBe(502);
    expect(e502.body).toContain('web2 (10.30.0.12:80): connection reset');
    const e504 = proxyErrorResponse({ kind: 'backendTimeout', backend: 'web3', endpoint: '10.30.0.13:80', timeoutMs: 3000 });
    expect(e504.status).toBe(504);
    expect(e504.body).toContain('web3 (10.30.0.13:80) sent no response within 3000 ms');
    expect(proxyErrorResponse({ kind: 'headersTooLarge', limit: 16384 }).status).toBe(431);
    expect(proxyErrorResponse({ kind: 'headerTimeout', timeoutMs: 5000 }).status).toBe(408);
    expect(proxyErrorResponse({ kind: 'badRequest', detail: describeParseError('HPE_INVALID_METHOD') }).body).toBe('400 Bad Request: unknown method\n');
  });

  it('writes a complete response for a socket the HTTP server gave up on', () => {
    const raw = rawErrorResponse({ kind: 'badRequest', detail: 'not HTTP' });
    const [head, body] = raw.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(head).toContain(`Content-Length: ${Buffer.byteLength(body!)}`);
    expect(head).toContain('Connection: close');
  });
});

describe('Forwarded (RFC 7239)', () => {
  it('IPv4 as is, IPv6 quoted in brackets (§6), a host that is not a token quoted', () => {
    expect(forwardedElement('10.20.0.10', 'www.lab', 'http')).toBe('for=10.20.0.10;host=www.lab;proto=http');
    expect(forwardedElement('fd00::1', 'www.lab:8080', 'http')).toBe('for="[fd00::1]";host="www.lab:8080";proto=http');
    expect(forwardedElement('10.0.0.1', undefined, 'http')).toBe('for=10.0.0.1;proto=http');
  });
});
