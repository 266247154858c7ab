/**
 * Which secret the gateway signs webhooks with. `webhooks.secret` when configured; otherwise the one kept in
 * `$LLAMACTL_HOME/webhook-secret` (0600), made there on first use, so a receiver configured with it keeps working
 * across restarts (as Replicate's account secret does); where there is no llamactl home (or it cannot be written),
 * a new one for this start only. A kept file that others may read, or that is not a secret, is refused.
 */
import { lstat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { llamactlHome } from '../store/paths.js';
import { readSmallFile } from '../system/regular-file.js';
import { checkWebhookSecret, newWebhookSecret } from './webhook-sign.js';

export function webhookSecretPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(llamactlHome(env), 'webhook-secret');
}

export async function webhookSecret(configured: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (configured) return checkWebhookSecret(configured);
  if (!existsSync(llamactlHome(env))) return newWebhookSecret();
  const path = webhookSecretPath(env);
  const kept = await readKept(path);
  if (kept !== undefined) return kept;
  const secret = newWebhookSecret();
  try {
    // Exclusive: never written through a link planted there, and a gateway starting beside us keeps its own.
    await writeFile(path, `${secret}\n`, { mode: 0o600, flag: 'wx' });
    return secret;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return (await readKept(path)) ?? secret;
    // A read-only home: this start's secret is not kept.
    return secret;
  }
}

/** The kept secret, undefined when there is none. */
async function readKept(path: string): Promise<string | undefined> {
  const stats = await lstat(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (!stats) return undefined;
  const hint = `Remove ${path} (a new secret is made at the next start), or set webhooks.secret in the gateway config.`;
  if (!stats.isFile()) throw new UsageError(`${path} is not a regular file; it should hold the webhook signing secret.`, { hint });
  if ((stats.mode & 0o077) !== 0) {
    throw new UsageError(`${path} (the webhook signing secret) may be read by others (mode ${(stats.mode & 0o777).toString(8)}): they could sign webhooks as the gateway.`, {
      hint: `chmod 600 ${path}, or remove it.`,
    });
  }
  const text = (await readSmallFile(path, 256)).trim();
  try {
    return checkWebhookSecret(text);
  } catch {
    throw new UsageError(`${path} does not hold a webhook secret (whsec_ and base64).`, { hint });
  }
}
