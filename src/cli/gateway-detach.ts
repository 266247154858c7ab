/**
 * `llamactl gateway --detach`: runs the same command again in the background (its own session and process group,
 * output to `$LLAMACTL_HOME/run/<name>.log`), waits until it listens and has written its record, and returns. API
 * keys reach it through its environment, never its argv.
 */
import { execa } from 'execa';
import { constants } from 'node:fs';
import { mkdir, open, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { ServerStartError } from '../errors.js';
import { runDir } from '../store/paths.js';
import { claimServerName, logFilePath } from '../store/servers.js';
import { CHILD_ENV, KEYS_ENV } from './gateway-child.js';

/** What the detached gateway is started with: `llamactl gateway`'s options, as parsed values (ms, bytes). */
export interface DetachOptions {
  config?: string | undefined;
  host?: string | undefined;
  port?: number | undefined;
  memoryBudget?: number | undefined;
  gpuMemoryBudget?: number | undefined;
  ttlMs?: number | undefined;
  name?: string | undefined;
  insecure?: boolean | undefined;
  allowedHost?: string[] | undefined;
}

export interface DetachedGateway {
  name: string;
  url: string;
  pid: number;
}

const READY_TIMEOUT_MS = 120_000;

export async function detachGateway(flags: DetachOptions, apiKeys: readonly string[]): Promise<DetachedGateway> {
  await mkdir(runDir(), { recursive: true, mode: 0o700 });
  await using claim = await claimServerName('gateway', flags.name ?? 'gateway');
  const log = logFilePath(claim.name);
  const args = ['gateway', ...childArgs(flags)];
  const entry = fileURLToPath(new URL('../../bin/llamactl.js', import.meta.url));
  // A new log, created exclusively (never written through a link planted in the run dir), as for `serve --detach`.
  await rm(log, { force: true });
  const handle = await open(log, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  const child = execa(process.execPath, [entry, ...args], {
    detached: true,
    cleanup: false,
    reject: false,
    stdin: 'ignore',
    stdout: handle.fd as unknown as 3,
    stderr: handle.fd as unknown as 3,
    ipc: true,
    serialization: 'json',
    env: { ...process.env, [CHILD_ENV]: claim.name, [KEYS_ENV]: JSON.stringify(apiKeys) },
  });
  await handle.close();
  let timer: NodeJS.Timeout | undefined;
  try {
    const outcome = await Promise.race([
      child.getOneMessage().then((message) => ({ message: message as unknown as DetachedGateway & { type: string } })),
      child.then((result) => ({ exit: result })),
      new Promise<{ timeout: true }>((resolve) => (timer = setTimeout(() => resolve({ timeout: true }), READY_TIMEOUT_MS))),
    ]);
    if ('message' in outcome && outcome.message.type === 'ready') {
      child.disconnect();
      child.unref();
      return { name: outcome.message.name, url: outcome.message.url, pid: outcome.message.pid };
    }
    if (!('exit' in outcome)) child.kill('SIGKILL');
    const tail = (await readTail(log).catch(() => '')).trimEnd().split('\n').slice(-20).join('\n');
    const line = tail.split('\n').reverse().find((text) => text.startsWith('llamactl: '));
    throw new ServerStartError(
      line ? line.slice('llamactl: '.length) : `The gateway did not start${'timeout' in outcome ? ` within ${READY_TIMEOUT_MS / 1000} s` : ''}.`,
      { command: [process.execPath, entry, ...args], exitCode: 'exit' in outcome ? outcome.exit.exitCode : undefined, outputTail: tail },
      { hint: `Its output is in ${log}.` },
    );
  } finally {
    clearTimeout(timer);
  }
}

/** The options again as flags (parsed values: ms, bytes), without --detach/--json and without the keys. */
function childArgs(flags: DetachOptions): string[] {
  const args: string[] = [];
  const add = (flag: string, value: string | number | undefined, unit = '') => value !== undefined && args.push(flag, `${value}${unit}`);
  add('--config', flags.config);
  add('--host', flags.host);
  add('--port', flags.port);
  add('--memory-budget', flags.memoryBudget);
  add('--gpu-memory-budget', flags.gpuMemoryBudget);
  add('--ttl', flags.ttlMs, 'ms');
  add('--name', flags.name);
  for (const name of flags.allowedHost ?? []) add('--allowed-host', name);
  if (flags.insecure) args.push('--insecure');
  return args;
}

/** The last 64 KiB of the child's log (its last lines say why it did not start), however much it wrote. */
async function readTail(path: string): Promise<string> {
  const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, 64 * 1024);
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(length), 0, length, size - length);
    return buffer.subarray(0, bytesRead).toString('utf8');
  } finally {
    await handle.close();
  }
}
