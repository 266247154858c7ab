/**
 * What a model's engine can serve besides text generation: embeddings (`--embeddings`) and reranking
 * (`--reranking`) are engine flags, set per model in the config (`embeddings: true`, `reranking: true`, or the flag
 * itself in `args`). A route that needs one on a model started without it gets a 400 that says how to enable it,
 * instead of the engine's 501. Also the rest of what an engine is started with: its arguments and environment.
 */
import type { GatewayModelConfig } from './config.js';
import { GatewayError } from './gateway-error.js';

export type Capability = 'embeddings' | 'reranking';

const FLAGS: Record<Capability, readonly string[]> = {
  embeddings: ['--embeddings', '--embedding'],
  reranking: ['--reranking', '--rerank'],
};

export function hasCapability(model: GatewayModelConfig, capability: Capability): boolean {
  return model[capability] === true || (model.args ?? []).some((arg) => FLAGS[capability].includes(arg));
}

/** The engine flags the config's `embeddings` / `reranking` keys stand for (none already in `args`). */
export function capabilityArgs(model: GatewayModelConfig): string[] {
  const args = model.args ?? [];
  const extra: string[] = [];
  for (const capability of ['embeddings', 'reranking'] as const) {
    if (model[capability] === true && !args.some((arg) => FLAGS[capability].includes(arg))) extra.push(FLAGS[capability][0]!);
  }
  return extra;
}

/** Every API a model answers, for `/v1/models`. */
export function capabilitiesOf(model: GatewayModelConfig): string[] {
  const list = ['chat', 'completions', 'messages', 'responses', 'tokenize'];
  if (hasCapability(model, 'embeddings')) list.push('embeddings');
  if (hasCapability(model, 'reranking')) list.push('rerank');
  return list;
}

export function requireCapability(model: GatewayModelConfig, capability: Capability | undefined, path: string): void {
  if (capability === undefined || hasCapability(model, capability)) return;
  throw new GatewayError(400, 'capability_not_enabled', `The model ${JSON.stringify(model.name)} was not started with ${capability}, which ${path} needs. Set \`models.${model.name}.${capability}: true\` in the gateway config (it starts the engine with ${FLAGS[capability][0]}).`, { param: 'model' });
}

/** The engine answers under the gateway's name for the model (not its file path), unless told otherwise. */
export function engineArgs(config: GatewayModelConfig): string[] {
  const args = [...capabilityArgs(config), ...(config.args ?? [])];
  // llamafiler (`--v2`) has no --alias.
  if (args.some((arg) => arg === '--alias' || arg === '-a' || arg === '--v2')) return args;
  return ['--alias', config.name, ...args];
}

/** The gateway's own keys stay out of the engines' environments. */
export function engineEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const copy = { ...env };
  for (const name of Object.keys(copy)) if (name.startsWith('LLAMACTL_GATEWAY_')) delete copy[name];
  return copy;
}
