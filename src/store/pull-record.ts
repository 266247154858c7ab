import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { writeJsonAtomic } from '../system/atomic-json.js';
import { readSmallFile } from '../system/regular-file.js';
import { isModelRecord, readManifest, recordModel, type ModelRecord } from './models.js';
import { llamactlHome, modelsDir } from './paths.js';

/**
 * Records of finished pulls, so that pulling a complete file again is a no-op without re-reading it. A file in the
 * store is recorded in its repo folder's manifest; one pulled with `--dir` in `$LLAMACTL_HOME/elsewhere.json`, by
 * absolute path (nothing is written into the user's folder).
 */
interface Elsewhere {
  version: 1;
  files: Record<string, ModelRecord & { repo: string }>;
}

function inStore(path: string, env: NodeJS.ProcessEnv): boolean {
  return dirname(dirname(dirname(path))) === modelsDir(env);
}

/** Read without blocking and bounded: a FIFO or a huge file in its place costs a fresh record, never a hang. */
const MAX_ELSEWHERE_BYTES = 16 * 1024 * 1024;

const elsewherePath = (env: NodeJS.ProcessEnv) => join(llamactlHome(env), 'elsewhere.json');

async function readElsewhere(env: NodeJS.ProcessEnv): Promise<Elsewhere> {
  try {
    const data = JSON.parse(await readSmallFile(elsewherePath(env), MAX_ELSEWHERE_BYTES)) as Elsewhere;
    if (data?.version === 1 && typeof data.files === 'object' && data.files !== null && !Array.isArray(data.files)) return data;
  } catch {
    // none yet, or unreadable: start a new one
  }
  return { version: 1, files: {} };
}

/** The record of the pull that wrote `path` (absolute), if any. */
export async function readPullRecord(path: string, env: NodeJS.ProcessEnv): Promise<ModelRecord | undefined> {
  if (inStore(path, env)) return (await readManifest(dirname(path)))?.models[basename(path)];
  const { files } = await readElsewhere(env);
  const record: unknown = Object.hasOwn(files, path) ? files[path] : undefined;
  return isModelRecord(record) ? record : undefined;
}

/** Records a finished pull of `repo` into `path` (absolute). */
export async function writePullRecord(path: string, repo: string, record: ModelRecord, env: NodeJS.ProcessEnv): Promise<void> {
  if (inStore(path, env)) return recordModel(dirname(path), repo, basename(path), record);
  // Best effort: without the record the next pull reads the file again, nothing worse.
  try {
    const data = await readElsewhere(env);
    data.files[path] = { ...record, repo };
    // Forget files that are gone (deleted by hand, temp folders), so the record stays small.
    for (const other of Object.keys(data.files)) if (!existsSync(other)) delete data.files[other];
    await mkdir(llamactlHome(env), { recursive: true });
    await writeJsonAtomic(elsewherePath(env), data, 0o644);
  } catch {
    // an unwritable home
  }
}
