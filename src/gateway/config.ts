/**
 * The gateway's config file: YAML (so JSON too), validated at start with errors that name the file, the line and the
 * key. `${VAR}` in a string is expanded from the environment; an unset variable is an error, never an empty key.
 */
import { readFile } from 'node:fs/promises';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import { UsageError } from '../errors.js';
import { parseRpcList } from '../server/rpc/parse-rpc.js';
import { parseDuration, parseSize } from '../text/units.js';

/** One model the gateway serves, under the name clients send as `model`. */
export interface GatewayModelConfig {
  name: string;
  /** A store name, a `.llamafile` path, or a `.gguf` path (with `runtime`). */
  model: string;
  runtime?: string | undefined;
  ctxSize?: number | undefined;
  gpuLayers?: number | undefined;
  /** Requests in flight at once (the engine's slots, `-np`). @default 1 */
  parallel?: number | undefined;
  threads?: number | undefined;
  /** Idle time before the engine is stopped; 0 = never. @default the gateway's `ttl` */
  ttlMs?: number | undefined;
  args?: string[] | undefined;
  aliases?: string[] | undefined;
  /** Replicate inputs without `prompt_template` use this (a built-in name or a template); else the model's own. */
  promptTemplate?: string | undefined;
  /** Start even when the fit check says it will not fit in RAM. */
  force?: boolean | undefined;
  /** Start the engine with `--embeddings`, for `/v1/embeddings`. */
  embeddings?: boolean | undefined;
  /** Start the engine with `--reranking`, for `/v1/rerank` (a reranker model). */
  reranking?: boolean | undefined;
  /**
   * llama.cpp RPC workers to offload to, as for `serve --rpc`: `HOST:PORT[=MEM]` each (checked at load). Needs a
   * llama-server `runtime` and `gpuLayers`; the offloaded share of the model then counts against the workers, not
   * the gateway's budget.
   */
  rpc?: string[] | undefined;
}

export interface GatewayConfig {
  host?: string | undefined;
  port?: number | undefined;
  apiKeys?: string[] | undefined;
  memoryBudget?: number | undefined;
  gpuMemoryBudget?: number | undefined;
  ttlMs?: number | undefined;
  preload?: string[] | undefined;
  /** Waiting requests per model beyond its slots; more get 429. @default 32 */
  queueSize?: number | undefined;
  /** How long a request waits for a slot or for memory before 503. @default 60 s */
  queueTimeoutMs?: number | undefined;
  /** Load deadline of each engine (progress-aware, as for `serve`). @default 120 s */
  loadTimeoutMs?: number | undefined;
  /** Largest request body. @default 8 MiB */
  maxBodyBytes?: number | undefined;
  /** In-flight requests get this long to finish on shutdown. @default 10 s */
  shutdownGraceMs?: number | undefined;
  /** Host names (or `*.domain`) besides this machine's that requests may name in `Host` (a reverse proxy's). */
  allowedHosts?: string[] | undefined;
  /** `cors.origins`: web origins allowed to call the API from a browser (`*` only together with apiKeys). */
  corsOrigins?: string[] | undefined;
  /** `webhooks.allow`: where Replicate webhooks may go (hosts, `*.domain`, addresses, CIDRs). @default loopback */
  webhookAllow?: string[] | undefined;
  /** `webhooks.secret`: the signing secret (`whsec_…`). @default the one kept in `$LLAMACTL_HOME/webhook-secret` (0600), made on first use */
  webhookSecret?: string | undefined;
  /** `webhooks.timeout`: per delivery attempt. @default 10 s */
  webhookTimeoutMs?: number | undefined;
  /** Undefined when the config names none: every model in the store is served. */
  models?: GatewayModelConfig[] | undefined;
}

type Kind = 'string' | 'integer' | 'duration' | 'size' | 'strings' | 'boolean' | 'rpc';
type Field = [keyof GatewayConfig, Kind];
/** A nested mapping whose keys land in flat config fields (`cors.origins` → `corsOrigins`). */
type Section = { section: Record<string, Field> };
const TOP: Record<string, Field | Section | 'models'> = {
  host: ['host', 'string'], port: ['port', 'integer'], apiKeys: ['apiKeys', 'strings'],
  memoryBudget: ['memoryBudget', 'size'], gpuMemoryBudget: ['gpuMemoryBudget', 'size'], ttl: ['ttlMs', 'duration'],
  preload: ['preload', 'strings'], queueSize: ['queueSize', 'integer'], queueTimeout: ['queueTimeoutMs', 'duration'],
  loadTimeout: ['loadTimeoutMs', 'duration'], maxBodySize: ['maxBodyBytes', 'size'],
  shutdownGrace: ['shutdownGraceMs', 'duration'], models: 'models', allowedHosts: ['allowedHosts', 'strings'],
  cors: { section: { origins: ['corsOrigins', 'strings'] } },
  webhooks: { section: { allow: ['webhookAllow', 'strings'], secret: ['webhookSecret', 'string'], timeout: ['webhookTimeoutMs', 'duration'] } },
};
const MODEL: Record<string, [keyof GatewayModelConfig, Kind]> = {
  model: ['model', 'string'], runtime: ['runtime', 'string'], ctxSize: ['ctxSize', 'integer'],
  gpuLayers: ['gpuLayers', 'integer'], parallel: ['parallel', 'integer'], threads: ['threads', 'integer'],
  ttl: ['ttlMs', 'duration'], args: ['args', 'strings'], aliases: ['aliases', 'strings'],
  promptTemplate: ['promptTemplate', 'string'], force: ['force', 'boolean'], rpc: ['rpc', 'rpc'],
  embeddings: ['embeddings', 'boolean'], reranking: ['reranking', 'boolean'],
};

/** Reads and validates a config file. */
export async function loadGatewayConfig(file: string, env: NodeJS.ProcessEnv = process.env): Promise<GatewayConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new UsageError(`Cannot read the gateway config ${file}: ${(error as Error).message}.`, { cause: error });
  }
  return parseGatewayConfig(text, file, env);
}

/** Parses config text; `file` is only for messages. */
export function parseGatewayConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  if (text.length > 1_000_000) throw new UsageError(`${file} is larger than 1 MB; that is not a gateway config.`);
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const where = (node: Node | null | undefined) => {
    const offset = node?.range?.[0];
    return offset === undefined ? file : `${file}:${lines.linePos(offset).line}`;
  };
  const fail = (node: Node | null | undefined, message: string): never => {
    throw new UsageError(`${where(node)}: ${message}`, { hint: 'Fix the config file (see `llamactl gateway --help`).' });
  };
  const first = doc.errors[0];
  if (first) throw new UsageError(`${file}:${lines.linePos(first.pos[0]).line}: ${first.message.split('\n')[0]}`);
  const root = doc.contents;
  if (root === null) return {};
  if (!isMap(root)) return fail(root, 'the config must be a mapping of keys (host, port, models, …).');

  const expand = (node: Node, value: string, key: string) =>
    value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
      const found = env[name];
      if (found === undefined || found === '') fail(node, `${key} uses \${${name}}, which is not set in the environment.`);
      return found!;
    });
  const read = (node: Node | null, kind: Kind, key: string): unknown => {
    if (node === null) return fail(node, `${key} has no value.`);
    if (kind === 'rpc') {
      // One string (`a:50052,b:50052`) or a list, as `--rpc` takes; checked here so a typo names its line.
      const items = isSeq(node) ? (read(node, 'strings', key) as string[]) : [read(node, 'string', key) as string];
      try {
        parseRpcList(items);
        return items;
      } catch (error) {
        return fail(node, `${key}: ${(error as Error).message.replace(/^rpc:? /, '')}`);
      }
    }
    if (kind === 'strings') {
      if (!isSeq(node)) return fail(node, `${key} must be a list of strings.`);
      return node.items.map((item) => read(item as Node, 'string', key));
    }
    if (!isScalar(node)) return fail(node, `${key} must be a single value.`);
    const raw = node.value;
    if (kind === 'string') {
      if (typeof raw !== 'string' && typeof raw !== 'number') return fail(node, `${key} must be a string.`);
      const value = expand(node, String(raw), key);
      if (value.length === 0 || value.length > 4096) fail(node, `${key} must be a non-empty string (at most 4096 characters).`);
      return value;
    }
    if (kind === 'boolean') return typeof raw === 'boolean' ? raw : fail(node, `${key} must be true or false.`);
    if (kind === 'integer') {
      if (typeof raw !== 'number' || !Number.isSafeInteger(raw) || raw < 0) return fail(node, `${key} must be a whole number ≥ 0.`);
      return raw;
    }
    if (typeof raw !== 'number' && typeof raw !== 'string') return fail(node, `${key} must be a ${kind} such as ${kind === 'size' ? '48GB' : '10m'}.`);
    // A plain number is seconds or bytes (YAML reads `ttl: 600` as a number); 0 is allowed (`ttl: 0` = never).
    try {
      return kind === 'size' ? parseSize(String(raw), { name: key }) : parseDuration(String(raw), { name: key, allowZero: true });
    } catch (error) {
      return fail(node, (error as Error).message);
    }
  };

  const config: GatewayConfig = {};
  for (const pair of root.items) {
    const keyNode = pair.key as Node;
    const key = isScalar(keyNode) ? String(keyNode.value) : '?';
    const spec = TOP[key];
    if (!spec) fail(keyNode, `unknown key ${JSON.stringify(key)} (known: ${Object.keys(TOP).join(', ')}).`);
    const valueNode = pair.value as Node | null;
    if (spec === 'models') {
      config.models = readModels(valueNode, read, fail);
      continue;
    }
    if (!Array.isArray(spec)) {
      readSection(valueNode, key, spec!.section, config, read, fail);
      continue;
    }
    const [field, kind] = spec;
    (config as Record<string, unknown>)[field] = read(valueNode, kind, key);
  }
  if (config.port !== undefined && config.port > 65535) fail(root, `port must be at most 65535, got ${config.port}.`);
  return config;
}

type Reader = (node: Node | null, kind: Kind, key: string) => unknown;
type Fail = (node: Node | null | undefined, message: string) => never;

function readSection(node: Node | null, name: string, fields: Record<string, Field>, config: GatewayConfig, read: Reader, fail: Fail): void {
  if (node === null || !isMap(node)) return void fail(node, `${name} must be a mapping (${Object.keys(fields).join(', ')}).`);
  for (const pair of node.items) {
    const keyNode = pair.key as Node;
    const key = isScalar(keyNode) ? String(keyNode.value) : '?';
    const field = fields[key];
    if (!field) fail(keyNode, `${name}: unknown key ${JSON.stringify(key)} (known: ${Object.keys(fields).join(', ')}).`);
    (config as Record<string, unknown>)[field![0]] = read(pair.value as Node | null, field![1], `${name}.${key}`);
  }
}

function readModels(node: Node | null, read: Reader, fail: Fail): GatewayModelConfig[] {
  if (node === null || !isMap(node)) return fail(node, 'models must be a mapping of names to model settings.');
  const models: GatewayModelConfig[] = [];
  for (const pair of node.items) {
    const keyNode = pair.key as Node;
    const name = isScalar(keyNode) ? String(keyNode.value) : '';
    if (!/^[A-Za-z0-9@][\w@.:/+-]{0,199}$/.test(name)) fail(keyNode, `bad model name ${JSON.stringify(name)}.`);
    const body = pair.value as Node | null;
    if (body === null || !isMap(body)) return fail(keyNode, `models.${name} must be a mapping with at least \`model\`.`);
    const entry: Partial<GatewayModelConfig> = { name };
    for (const field of body.items) {
      const fieldNode = field.key as Node;
      const key = isScalar(fieldNode) ? String(fieldNode.value) : '?';
      const spec = MODEL[key];
      if (!spec) fail(fieldNode, `models.${name}: unknown key ${JSON.stringify(key)} (known: ${Object.keys(MODEL).join(', ')}).`);
      (entry as Record<string, unknown>)[spec![0]] = read(field.value as Node | null, spec![1], `models.${name}.${key}`);
    }
    if (entry.model === undefined) fail(keyNode, `models.${name} needs \`model\` (a store name, a .llamafile or a .gguf path).`);
    if (entry.parallel === 0) fail(keyNode, `models.${name}.parallel must be at least 1.`);
    models.push(entry as GatewayModelConfig);
  }
  return models;
}
