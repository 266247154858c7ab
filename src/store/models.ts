import { lstat, readdir, rmdir, stat, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { NotFoundError, UsageError } from '../errors.js';
import { journalPath, readJournal } from './pull-journal.js';
import { planChunks } from './chunk-plan.js';
import { quantOf } from '../hub/shards.js';
import { writeJsonAtomic } from '../system/atomic-json.js';
import { readSmallFile } from '../system/regular-file.js';
import { lockOwner } from './lock.js';
import { modelsDir } from './paths.js';

/** A model in the store (`$LLAMACTL_HOME/models/<owner>/<repo>/<file>`). */
export interface StoredModel {
  /** The file name, e.g. `Meta-Llama-3.1-405B.Q2_K.llamafile`. */
  name: string;
  repo: string | undefined;
  commit: string | undefined;
  /** Where the file is (or will be, for a partial download). */
  path: string;
  size: number;
  shards: { name: string; size: number; sha256: string }[];
  pulledAt: string;
  /** An interrupted pull: only `<path>.part` (and its journal) exist; `llamactl pull` again resumes it. */
  partial: boolean;
  /** Bytes finished: `size` for a complete model; for a partial one what its journal records, if it can be read. */
  done: number | undefined;
}

/** What is recorded of a finished pull. `mtimeMs` and `verified` let a re-pull trust the file without reading it. */
export interface ModelRecord {
  commit: string;
  revision: string;
  size: number;
  shards: StoredModel['shards'];
  pulledAt: string;
  /** The file's mtime when it was recorded: the record holds only while size and mtime are unchanged. */
  mtimeMs?: number | undefined;
  /** Whether the shards' sha256 were checked (false after `--no-verify`). */
  verified?: boolean | undefined;
}

/** `manifest.json` of one repo folder. */
export interface RepoManifest {
  version: 1;
  repo: string;
  models: Record<string, ModelRecord>;
}

const MANIFEST = 'manifest.json';
/** A manifest is a few hundred bytes a model; one larger than this was not written by llamactl. */
const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;
const MODEL_FILE = /\.(llamafile|gguf)$/i;

/** The store folder of a repo. */
export function repoDir(repo: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(modelsDir(env), ...repo.split('/'));
}

export async function readManifest(dir: string): Promise<RepoManifest | undefined> {
  try {
    const data = JSON.parse(await readSmallFile(join(dir, MANIFEST), MAX_MANIFEST_BYTES)) as RepoManifest;
    if (data?.version !== 1 || typeof data.repo !== 'string' || typeof data.models !== 'object' || data.models === null || Array.isArray(data.models)) return undefined;
    // Entries that are not records llamactl writes are dropped, so `ls` and a re-pull only ever see well-formed ones.
    const models = Object.create(null) as RepoManifest['models'];
    for (const [name, record] of Object.entries(data.models)) if (isModelRecord(record)) models[name] = record;
    return { version: 1, repo: data.repo, models };
  } catch {
    return undefined;
  }
}

/** Whether `value` has the shape of a `ModelRecord` (read from disk, so checked before use). */
export function isModelRecord(value: unknown): value is ModelRecord {
  const record = value as Partial<ModelRecord> | null;
  return (
    typeof record === 'object' &&
    record !== null &&
    typeof record.commit === 'string' &&
    Number.isSafeInteger(record.size) &&
    typeof record.pulledAt === 'string' &&
    (record.mtimeMs === undefined || typeof record.mtimeMs === 'number') &&
    (record.verified === undefined || typeof record.verified === 'boolean') &&
    Array.isArray(record.shards) &&
    record.shards.every((s: unknown) => {
      const shard = s as Partial<ModelRecord['shards'][number]> | null;
      return typeof shard?.name === 'string' && Number.isSafeInteger(shard.size) && typeof shard.sha256 === 'string';
    })
  );
}

/** Records a finished pull in the repo folder's manifest (atomic write). */
export async function recordModel(
  dir: string,
  repo: string,
  name: string,
  entry: RepoManifest['models'][string],
): Promise<void> {
  const manifest = (await readManifest(dir)) ?? { version: 1, repo, models: {} };
  manifest.models[name] = entry;
  await writeJsonAtomic(join(dir, MANIFEST), manifest, 0o644);
}

async function entries(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => []);
}

/** Every model in the store, pulled ones with their manifest data, stray model files with what their folder says. */
export async function listModels(env: NodeJS.ProcessEnv = process.env): Promise<StoredModel[]> {
  const root = modelsDir(env);
  const models: StoredModel[] = [];
  for (const owner of (await entries(root)).sort()) {
    for (const name of (await entries(join(root, owner))).sort()) {
      const dir = join(root, owner, name);
      const manifest = await readManifest(dir);
      const files = (await entries(dir)).sort();
      for (const file of files) {
        // A .part whose final file is not there is an interrupted pull: listed so it can be seen and removed.
        const partial = file.endsWith('.part') && !files.includes(file.slice(0, -5));
        const modelName = partial ? file.slice(0, -5) : file;
        if (!MODEL_FILE.test(modelName) || (file !== modelName && !partial)) continue;
        const info = await stat(join(dir, file)).catch(() => undefined);
        if (!info?.isFile()) continue;
        const recorded = partial ? undefined : manifest?.models[file];
        models.push({
          name: modelName,
          repo: manifest?.repo ?? `${owner}/${name}`,
          commit: recorded?.commit,
          path: join(dir, modelName),
          size: info.size,
          shards: recorded?.shards ?? [],
          pulledAt: recorded?.pulledAt ?? info.mtime.toISOString(),
          partial,
          done: partial ? await journalDone(join(dir, file)) : info.size,
        });
      }
    }
  }
  return models;
}

/** Bytes a partial download's journal records as finished. */
async function journalDone(partPath: string): Promise<number | undefined> {
  const journal = await readJournal(journalPath(partPath));
  if (!journal) return undefined;
  const done = new Set(journal.done);
  const chunks = planChunks(journal.shards.map((s) => s.size), journal.chunkSize);
  return chunks.filter((c) => done.has(c.id)).reduce((sum, c) => sum + c.end - c.start, 0);
}

/** How to name each model on the command line: `owner/repo:QUANT`, or the file name where that is not unique. */
function labels(models: readonly StoredModel[]): string {
  const key = (m: StoredModel) => `${m.repo}:${quantOf(m.name)?.toLowerCase()}`;
  const unique = (m: StoredModel) => m.repo !== undefined && quantOf(m.name) !== undefined && models.filter((o) => key(o) === key(m)).length === 1;
  return models.map((m) => (unique(m) ? `${m.repo}:${quantOf(m.name)}` : m.name)).join(', ');
}

function names(models: readonly StoredModel[]): string {
  return models.length === 0 ? 'The store is empty; pull one with `llamactl pull owner/repo`.' : `Models here: ${labels(models)}.`;
}

/**
 * Finds a stored model by `owner/repo` (when it holds one model), `owner/repo:QUANT`, file name or path. Partial
 * downloads count only with `partial: true` (for `rm`): they cannot be served.
 */
export async function findModel(name: string, env: NodeJS.ProcessEnv = process.env, { partial = false } = {}): Promise<StoredModel> {
  const models = (await listModels(env)).filter((m) => partial || !m.partial);
  const byFile = models.filter((m) => m.name === name || m.path === resolve(name));
  if (byFile.length === 1) return byFile[0]!;
  const colon = name.lastIndexOf(':');
  const repo = (colon === -1 ? name : name.slice(0, colon)).toLowerCase();
  const quant = colon === -1 ? undefined : name.slice(colon + 1).toLowerCase();
  const inRepo = models.filter((m) => m.repo?.toLowerCase() === repo);
  const matches = quant === undefined ? inRepo : inRepo.filter((m) => quantOf(m.name)?.toLowerCase() === quant || m.name.toLowerCase() === quant);
  if (matches.length === 1) return matches[0]!;
  if (matches.length > 1) {
    // As `pull` does for the same case: bad usage (exit 2), not "not found".
    throw new UsageError(`${name} holds ${matches.length} models; say which one.`, { hint: `Use one of: ${labels(matches)}.` });
  }
  throw new NotFoundError(`No model ${JSON.stringify(name)} in the store (${modelsDir(env)}).`, { hint: names(models) });
}

/**
 * What a pull writes beside `<name>`: the `.part`, its `.part.journal`, the journal's atomic-write temp files
 * (`.part.journal.tmp-<pid>`, see system/atomic-json.ts) and the `.part.lock`.
 */
const PULL_FILES = /^\.part(?:\.journal(?:\.tmp-\d+)?|\.lock)?$/;

/** Unlinks a file (or a link), never a folder someone put there under that name. */
async function removeFile(path: string): Promise<void> {
  const info = await lstat(path).catch(() => undefined);
  if (info && !info.isDirectory()) await unlink(path).catch(() => {});
}

/** Deletes a stored model (its file, any partial download, its manifest entry) and returns what it was. */
export async function removeModel(name: string, env: NodeJS.ProcessEnv = process.env): Promise<StoredModel> {
  const model = await findModel(name, env, { partial: true });
  const lock = `${model.path}.part.lock`;
  const owner = await lockOwner(lock);
  if (owner !== undefined) {
    throw new UsageError(`${model.path} is being pulled by pid ${owner}.`, { hint: 'Stop that pull first, then remove it.' });
  }
  const dir = resolve(model.path, '..');
  await removeFile(model.path);
  // The partial download: exactly the files a pull makes beside it, never a user's `M.llamafile.part.backup`.
  for (const file of await entries(dir)) {
    if (file.startsWith(model.name) && PULL_FILES.test(file.slice(model.name.length))) await removeFile(join(dir, file));
  }
  const manifest = await readManifest(dir);
  if (manifest?.models[model.name]) {
    delete manifest.models[model.name];
    if (Object.keys(manifest.models).length === 0) await removeFile(join(dir, MANIFEST));
    else await writeJsonAtomic(join(dir, MANIFEST), manifest, 0o644);
  }
  // Drop the now-empty repo and owner folders; rmdir fails harmlessly when something is left.
  await rmdir(dir).catch(() => {});
  await rmdir(resolve(dir, '..')).catch(() => {});
  return model;
}
