/**
 * Replicate's inputs for its Llama models (seeds 000/001) checked and turned into `predict()`'s: `max_new_tokens` /
 * `min_new_tokens` are the old names (not both), `min_tokens: -1` disables it, `stop_sequences` is comma-separated.
 * An unknown input or a wrong type is a 422 that names it.
 */
import type { PredictionInput } from '../client/predict.js';
import { GatewayError } from './gateway-error.js';

type Kind = 'string' | 'number' | 'integer' | 'stops';
const INPUTS: Record<string, Kind> = {
  prompt: 'string', system_prompt: 'string', prompt_template: 'string', max_tokens: 'integer', max_new_tokens: 'integer',
  min_tokens: 'integer', min_new_tokens: 'integer', temperature: 'number', top_p: 'number', top_k: 'integer',
  stop_sequences: 'stops', presence_penalty: 'number', frequency_penalty: 'number', seed: 'integer',
  length_penalty: 'number',
};

export class InputError extends GatewayError {
  readonly field: string;
  constructor(field: string, description: string) {
    super(422, 'input_validation_failed', `input.${field}: ${description}`);
    this.field = field;
  }
}

export interface MappedInput {
  /** For predict(), without the template choice (made once the model is known). */
  input: PredictionInput;
  /** Notes for the prediction's logs (inputs accepted but without effect here). */
  notes: string[];
}

export function mapReplicateInput(raw: unknown): MappedInput {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new InputError('', 'input must be an object');
  const given = raw as Record<string, unknown>;
  for (const [key, value] of Object.entries(given)) {
    const kind = INPUTS[key];
    if (!kind) throw new InputError(key, `Additional property ${key} is not allowed (known: ${Object.keys(INPUTS).join(', ')})`);
    if (value === null || value === undefined) continue;
    const ok = kind === 'string' ? typeof value === 'string'
      : kind === 'number' ? typeof value === 'number' && Number.isFinite(value)
      : kind === 'integer' ? Number.isSafeInteger(value)
      : typeof value === 'string' || (Array.isArray(value) && value.every((item) => typeof item === 'string'));
    if (!ok) throw new InputError(key, `Invalid type. Expected: ${kind === 'stops' ? 'string' : kind}, given: ${Array.isArray(value) ? 'array' : typeof value}`);
  }
  if (typeof given.prompt !== 'string') throw new InputError('prompt', 'prompt is required');
  for (const [now, old] of [['max_tokens', 'max_new_tokens'], ['min_tokens', 'min_new_tokens']] as const) {
    if (given[now] != null && given[old] != null) throw new InputError(old, `${old} is the old name of ${now}; both may not be specified`);
  }
  const input: PredictionInput = { prompt: given.prompt };
  const text = (key: string) => (typeof given[key] === 'string' ? (given[key] as string) : undefined);
  const num = (key: string) => (typeof given[key] === 'number' ? (given[key] as number) : undefined);
  const system = text('system_prompt');
  if (system !== undefined) input.system_prompt = system;
  const template = text('prompt_template');
  if (template !== undefined) input.prompt_template = template;
  const max = num('max_tokens') ?? num('max_new_tokens');
  if (max !== undefined) {
    if (max < 1) throw new InputError('max_tokens', 'must be at least 1');
    input.max_tokens = max;
  }
  const min = num('min_tokens') ?? num('min_new_tokens');
  if (min !== undefined) {
    if (min < -1) throw new InputError('min_tokens', 'must be at least -1 (-1 disables it)');
    if (min > 0) input.min_tokens = Math.min(min, input.max_tokens ?? 512);
  }
  for (const key of ['temperature', 'top_p', 'presence_penalty', 'frequency_penalty', 'seed'] as const) {
    const value = num(key);
    if (value !== undefined) input[key] = value;
  }
  const topK = num('top_k');
  // Replicate's -1 and 0 both mean "no top-k"; llama.cpp spells that 0.
  if (topK !== undefined) input.top_k = Math.max(0, topK);
  if (input.top_p !== undefined && !(input.top_p > 0 && input.top_p <= 1)) throw new InputError('top_p', 'must be in (0, 1]');
  if (input.temperature !== undefined && input.temperature < 0) throw new InputError('temperature', 'must be at least 0');
  const stops = given.stop_sequences;
  const list = typeof stops === 'string' ? stops.split(',') : Array.isArray(stops) ? (stops as string[]) : [];
  const stop = list.filter((item) => item !== '');
  if (stop.length > 0) input.stop = stop;
  const notes: string[] = [];
  if (given.length_penalty != null && given.length_penalty !== 1) notes.push('length_penalty has no equivalent in llama.cpp and was ignored');
  return { input, notes };
}
