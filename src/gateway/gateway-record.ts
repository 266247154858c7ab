/**
 * A detached gateway's record, so that `llamactl ps` lists it (with the models it holds) and `llamactl stop gateway`
 * stops it: the same 0600 server record as `serve --detach` writes (kind `gateway`), plus a 0600 key file next to
 * it holding a key that only the `/gateway/*` routes accept, so `ps` can ask a gateway that requires API keys.
 */
import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runDir } from '../store/paths.js';
import { logFilePath, removeServer, saveServer, type ServerRecord } from '../store/servers.js';
import { processStartTime } from '../system/process-facts.js';
import { readSmallFile } from '../system/regular-file.js';
import type { ModelStatus } from './model-handle.js';

function keyPath(name: string, env?: NodeJS.ProcessEnv): string {
  return join(runDir(env), `${name}.gateway-key`);
}

/** A fresh admin key for `ps`, written (0600) before the gateway starts listening. */
export async function writeAdminKey(name: string, env?: NodeJS.ProcessEnv): Promise<string> {
  const key = randomBytes(24).toString('base64url');
  // Created afresh and exclusively, so a link planted in the run dir is never written through.
  await rm(keyPath(name, env), { force: true });
  await writeFile(keyPath(name, env), `${key}\n`, { mode: 0o600, flag: 'wx' });
  return key;
}

export async function saveGatewayRecord(
  gateway: { url: string; host: string; port: number },
  info: { name: string; config: string | undefined; argv: string[] },
  env?: NodeJS.ProcessEnv,
): Promise<void> {
  await saveServer(
    {
      name: info.name, pid: process.pid, startTime: (await processStartTime(process.pid)) ?? '', url: gateway.url,
      host: gateway.host, port: gateway.port, model: info.config ?? '(gateway)', runtime: 'gateway', kind: 'gateway', healthPath: '/health',
      argv: info.argv, logFile: logFilePath(info.name, env), createdAt: new Date().toISOString(),
    },
    env,
  );
}

export async function removeGatewayRecord(name: string, env?: NodeJS.ProcessEnv): Promise<void> {
  await removeServer(name, env);
  await rm(keyPath(name, env), { force: true });
}

/** The models a running gateway holds, as it reports them (undefined when it cannot be asked). */
export async function gatewayModels(record: Pick<ServerRecord, 'name' | 'url'>, env?: NodeJS.ProcessEnv): Promise<ModelStatus[] | undefined> {
  const key = (await readSmallFile(keyPath(record.name, env), 4096).catch(() => '')).trim();
  try {
    const response = await fetch(`${record.url}/gateway/models`, {
      headers: key ? { authorization: `Bearer ${key}` } : {},
      signal: AbortSignal.timeout(2000),
    });
    if (!response.ok) return undefined;
    const body = (await response.json()) as { models?: ModelStatus[] };
    return Array.isArray(body.models) ? body.models.slice(0, 1000) : undefined;
  } catch {
    return undefined;
  }
}
