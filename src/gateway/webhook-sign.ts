/**
 * Webhook signatures as Replicate makes them (the Standard Webhooks scheme): `webhook-signature: v1,<base64 of
 * HMAC-SHA256(key, "<webhook-id>.<webhook-timestamp>.<body>")>`, the key being the base64 after `whsec_` in the
 * secret. The `replicate` client's `validateWebhook()` checks exactly this.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { UsageError } from '../errors.js';

export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/** A configured secret: `whsec_` and base64 of 24 to 64 bytes. */
export function checkWebhookSecret(secret: string): string {
  const key = /^whsec_([A-Za-z0-9+/]{32,88}={0,2})$/.exec(secret)?.[1];
  const bytes = key ? Buffer.from(key, 'base64').length : 0;
  if (bytes < 24 || bytes > 64) {
    throw new UsageError('webhooks.secret must be "whsec_" followed by the base64 of 24 to 64 random bytes.', {
      hint: 'Make one with: node -e "console.log(\'whsec_\' + require(\'crypto\').randomBytes(32).toString(\'base64\'))"',
    });
  }
  return secret;
}

export function signWebhook(secret: string, id: string, timestamp: number, body: string): string {
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}
