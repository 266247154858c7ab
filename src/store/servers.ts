import { mkdir, readdir, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { NotFoundError, UsageError } from '../errors.js';
import type { RuntimeKind } from '../runtime/runtime-info.js';
import { writeJsonAtomic } from '../system/atomic-json.js';
import { acceptsTcp } from '../system/accepts-tcp.js';
import { probeHttp } from '../system/probe-http.js';
import { readSmallFile } from '../system/regular-file.js';
import { isAlive, processStartTime } from '../system/process-facts.js';
import { tryFileLock } from './lock.js';
import { runDir } from './paths.js';

/** What `serve --detach` records about a server it leaves running (`<runDir>/<name>.json`, mode 0600). */
export interface ServerRecord {
  name: string;
  pid: number;
  /** The process start time as the OS reports it; guards against a reused PID. */
  startTime: string;
  url: string;
  host: string;
  port: number;
  /** What the user asked to serve (store name or path). */
  model: string;
  /** The engine's kind; `rpc-server` for a worker, `gateway` for a gateway (which runs engines of its own). */
  runtime: RuntimeKind | 'rpc-server' | 'gateway';
  healthPath: string;
  argv: string[];
  logFile: string;
  createdAt: string;
  gpu?: { offloaded: number; total: number } | undefined;
  /** The server requires an API key (clients get 401 without it). */
  keyRequired?: boolean | undefined;
  /**
   * The key llamactl generated for it (`serve --api-key auto`), for `run`, `chat` and connect() by name; a key the
   * user gave is never written here. Only in the file (0600, in a 0700 dir): listServers/findServer report
   * `hasApiKey` instead, never the key.
   */
  apiKey?: string | undefined;
  /**
   * `worker`: an rpc-server from `llamactl worker --detach` (no HTTP; "ready" means it accepts connections).
   * `gateway`: a detached `llamactl gateway` (its engines are its own children, not recorded here).
   */
  kind?: 'server' | 'worker' | 'gateway' | undefined;
}

export type ServerState = 'ready' | 'loading' | 'unhealthy' | 'unreachable' | 'exited';

export interface ServerStatus extends Omit<ServerRecord, 'apiKey' | 'keyRequired'> {
  /** Whether the server requires an API key (the key itself stays in the record file: see serverApiKey). */
  hasApiKey: boolean;
  /** `exited`: the process is gone (or its PID was reused); the record has been removed. */
  state: ServerState;
  /** The HTTP status of the health probe, when one answered. */
  healthStatus?: number | undefined;
}

/** True when `pid` runs and is still the process the record was written for. */
export async function isRecordAlive(record: Pick<ServerRecord, 'pid' | 'startTime'>): Promise<boolean> {
  if (!isAlive(record.pid)) return false;
  return (await processStartTime(record.pid)) === record.startTime;
}

function recordPath(name: string, env?: NodeJS.ProcessEnv): string {
  return join(runDir(env), `${name}.json`);
}

export function logFilePath(name: string, env?: NodeJS.ProcessEnv): string {
  return join(runDir(env), `${name}.log`);
}

/** Writes (atomically) a server record with mode 0600 in a 0700 run dir. */
export async function saveServer(record: ServerRecord, env?: NodeJS.ProcessEnv): Promise<void> {
  await mkdir(runDir(env), { recursive: true, mode: 0o700 });
  await writeJsonAtomic(recordPath(record.name, env), record, 0o600, 2);
}

export async function removeServer(name: string, env?: NodeJS.ProcessEnv): Promise<void> {
  await rm(recordPath(name, env), { force: true });
}

async function readRecords(env?: NodeJS.ProcessEnv): Promise<ServerRecord[]> {
  let entries: string[];
  try {
    entries = await readdir(runDir(env));
  } catch {
    return [];
  }
  const records: ServerRecord[] = [];
  for (const entry of entries.filter((name) => name.endsWith('.json')).sort()) {
    // Read without blocking and bounded (a FIFO or a huge file here must not hang `ps`), and used only when it is
    // the record of the server its file is named after: `removeServer(record.name)` must stay in the run dir.
    const text = await readSmallFile(join(runDir(env), entry), MAX_RECORD_BYTES).catch(() => undefined);
    const record = text === undefined ? undefined : parseRecord(text);
    if (record && `${record.name}.json` === entry) records.push(record);
  }
  return records;
}

const MAX_RECORD_BYTES = 1024 * 1024;

/** A server record with the fields liveness, `stop` and `logs` rely on, of the right types; else `undefined`. */
function parseRecord(text: string): ServerRecord | undefined {
  let data: Partial<ServerRecord> | null;
  try {
    data = JSON.parse(text) as Partial<ServerRecord> | null;
  } catch {
    return undefined;
  }
  const ok =
    typeof data === 'object' &&
    data !== null &&
    typeof data.name === 'string' &&
    isServerName(data.name) &&
    Number.isSafeInteger(data.pid) &&
    data.pid! > 0 &&
    typeof data.startTime === 'string' &&
    typeof data.url === 'string' &&
    typeof data.healthPath === 'string' &&
    typeof data.model === 'string' &&
    Number.isSafeInteger(data.port) &&
    Array.isArray(data.argv);
  return ok ? (data as ServerRecord) : undefined;
}

/**
 * The detached servers llamactl knows, with liveness and (unless `health: false`) a live health probe.
 * Records whose process is gone, or whose PID now belongs to another process, are reported once as `exited`
 * and removed (their log file stays for `llamactl logs`).
 */
export async function listServers(
  env?: NodeJS.ProcessEnv,
  options: { health?: boolean } = {},
): Promise<ServerStatus[]> {
  const records = (await readRecords(env)).map(withoutKey);
  return Promise.all(
    records.map(async (record): Promise<ServerStatus> => {
      if (!(await isRecordAlive(record))) {
        await removeServer(record.name, env);
        return { ...record, state: 'exited' };
      }
      if (options.health === false) return { ...record, state: 'ready' };
      if (record.kind === 'worker') {
        return { ...record, state: (await acceptsTcp(record.host, record.port, 1000)) ? 'ready' : 'unreachable' };
      }
      const status = await probeHttp(`${record.url}${record.healthPath}`, 1000);
      const state: ServerState =
        status === 200 ? 'ready' : status === 503 ? 'loading' : status === undefined ? 'unreachable' : 'unhealthy';
      return { ...record, state, healthStatus: status };
    }),
  );
}

/** A record as listServers reports it: whether a key is set, not the key (`ps --json` prints these). */
function withoutKey({ apiKey, keyRequired, ...record }: ServerRecord): ServerStatusRecord {
  return { ...record, hasApiKey: keyRequired === true || (typeof apiKey === 'string' && apiKey !== '') };
}

type ServerStatusRecord = Omit<ServerRecord, 'apiKey' | 'keyRequired'> & { hasApiKey: boolean };

/** The API key kept in the record of server `name` (one `serve --api-key auto` generated), if there is one. */
export async function serverApiKey(name: string, env?: NodeJS.ProcessEnv): Promise<string | undefined> {
  const record = await readRecord(name, env);
  return typeof record?.apiKey === 'string' && record.apiKey !== '' ? record.apiKey : undefined;
}

/** The record of server `name`, when the file holds a valid one of that name. */
async function readRecord(name: string, env?: NodeJS.ProcessEnv): Promise<ServerRecord | undefined> {
  if (!isServerName(name)) return undefined;
  const text = await readSmallFile(recordPath(name, env), MAX_RECORD_BYTES).catch(() => undefined);
  const record = text === undefined ? undefined : parseRecord(text);
  return record?.name === name ? record : undefined;
}

/** A live server by name, or by the model it serves when that is unambiguous. */
export async function findServer(nameOrModel: string, env?: NodeJS.ProcessEnv): Promise<ServerStatus> {
  const live = (await listServers(env, { health: false })).filter((server) => server.state !== 'exited');
  const byName = live.find((server) => server.name === nameOrModel);
  if (byName) return byName;
  const byModel = live.filter(
    (server) => server.model === nameOrModel || basename(server.model) === nameOrModel,
  );
  if (byModel.length === 1) return byModel[0]!;
  if (byModel.length > 1) {
    throw new UsageError(`${byModel.length} servers serve ${nameOrModel}: ${byModel.map((s) => s.name).join(', ')}.`, {
      hint: 'Name one of them.',
    });
  }
  throw new NotFoundError(`No running server named ${nameOrModel}.`, { hint: 'See `llamactl ps`.' });
}

/** Whether `name` can name a server: letters, digits, `.`, `_`, `-`, not starting with `.` or `-`. */
export function isServerName(name: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name);
}

/** A file-safe server name from a model name or path: `Llama-3.2-1B.Q4_K_M`. */
export function serverNameFor(model: string): string {
  const base = basename(model).replace(/\.(llamafile|gguf)$/i, '').replace(/[^A-Za-z0-9._-]+/g, '-');
  return base.replace(/^[-.]+/, '') || 'server';
}

/** A server name held while its server starts, so two `serve --detach` at once cannot both take it. */
export interface NameClaim extends AsyncDisposable {
  name: string;
}

function claimPath(name: string, env?: NodeJS.ProcessEnv): string {
  return join(runDir(env), `${name}.claim`);
}

/**
 * Takes `<name>.claim` (an exclusive lock file holding our pid; one whose process is gone is taken over), unless a
 * live server has that name. The record is read while the claim is held: a server that started, wrote its record
 * and released the claim since anyone last looked is seen here.
 */
async function tryClaim(name: string, env?: NodeJS.ProcessEnv): Promise<NameClaim | undefined> {
  const lock = await tryFileLock(claimPath(name, env), 0o600);
  if (!('release' in lock)) return undefined;
  const record = await readRecord(name, env);
  if (record && (await isRecordAlive(record))) {
    await lock.release();
    return undefined;
  }
  return { name, [Symbol.asyncDispose]: lock.release };
}

/**
 * Validates a user-given name, or derives a free one from the model (`name`, `name-2`, …), and holds it until the
 * claim is disposed (by then the server's record exists, or the start failed).
 */
export async function claimServerName(
  model: string,
  requested: string | undefined,
  env?: NodeJS.ProcessEnv,
): Promise<NameClaim> {
  await mkdir(runDir(env), { recursive: true, mode: 0o700 });
  if (requested !== undefined) {
    if (!isServerName(requested)) {
      throw new UsageError(`Bad server name ${JSON.stringify(requested)}.`, {
        hint: 'Use letters, digits, ".", "_" and "-".',
        option: 'name',
      });
    }
    const claim = await tryClaim(requested, env);
    if (!claim) {
      throw new UsageError(`A server named ${requested} is already running (or starting).`, {
        hint: `Stop it first (llamactl stop ${requested}) or pick another name.`,
        option: 'name',
      });
    }
    return claim;
  }
  const base = serverNameFor(model);
  for (let n = 1; ; n++) {
    const name = n === 1 ? base : `${base}-${n}`;
    const claim = await tryClaim(name, env);
    if (claim) return claim;
  }
}
