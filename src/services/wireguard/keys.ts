/**
 * Keys as `wg` writes them: 32 bytes in standard base64 (44 characters with
 * one '=' of padding), for private, public and preshared keys alike.
 */
import { KEY_LENGTH, generateStaticKey, publicKeyOf } from './crypto.js';

const KEY_BASE64 = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;

/** The key's bytes, or undefined when `text` is not a wg key. */
export function parseKey(text: string): Uint8Array | undefined {
  const t = text.trim();
  if (!KEY_BASE64.test(t)) return undefined;
  const bytes = Buffer.from(t, 'base64');
  return bytes.length === KEY_LENGTH ? new Uint8Array(bytes) : undefined;
}

export function formatKey(key: Uint8Array): string {
  return Buffer.from(key).toString('base64');
}

/** `wg genkey` */
export function generatePrivateKey(): string {
  return formatKey(generateStaticKey().privateKey);
}

/** `wg pubkey` */
export function publicKeyFor(privateKeyText: string): string | undefined {
  const key = parseKey(privateKeyText);
  return key ? formatKey(publicKeyOf(key)) : undefined;
}
