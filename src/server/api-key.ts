import { randomBytes } from 'node:crypto';
import { UsageError } from '../errors.js';

/** `apiKey: 'auto'` / `serve --api-key auto`: llamactl makes up the key and keeps it in the server's record. */
export const AUTO_API_KEY = 'auto';

/** A fresh key: 256 random bits, base64url (no `,`, which llama-server would split a key list on). */
export function generateApiKey(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * The key a server is started with: `auto` becomes a generated one, anything else is checked and kept. llama-server
 * reads LLAMA_API_KEY as a comma-separated list, and a key goes into an HTTP header, so an empty key, a `,` or a
 * control character would give a server that answers another key than the one asked for (or none): refused.
 */
export function resolveApiKey(apiKey: string | undefined): string | undefined {
  if (apiKey === undefined) return undefined;
  if (apiKey === AUTO_API_KEY) return generateApiKey();
  // eslint-disable-next-line no-control-regex
  if (apiKey === '' || /[,\s\x00-\x1f\x7f]/.test(apiKey)) {
    throw new UsageError('apiKey must not be empty or contain commas, spaces or control characters.', {
      hint: "Use apiKey: 'auto' (serve --api-key auto) for a random one.",
      option: 'apiKey',
    });
  }
  return apiKey;
}
