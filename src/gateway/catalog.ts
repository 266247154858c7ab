/**
 * The names the gateway answers to: each model under its configured name and its aliases (or, with no `models` in
 * the config, every model in the store under its store name). Lookup is exact, then case-insensitive; a miss comes
 * with the closest names, for the 404.
 */
import { UsageError } from '../errors.js';
import { listModels } from '../store/models.js';
import type { GatewayModelConfig } from './config.js';

export class Catalog {
  readonly models: readonly GatewayModelConfig[];
  readonly #byName = new Map<string, GatewayModelConfig>();
  readonly #byLowerName = new Map<string, GatewayModelConfig>();

  constructor(models: readonly GatewayModelConfig[]) {
    this.models = models;
    for (const model of models) {
      for (const name of [model.name, ...(model.aliases ?? [])]) {
        const taken = this.#byName.get(name);
        if (taken && taken !== model) {
          throw new UsageError(`The name ${JSON.stringify(name)} is given to two models (${taken.name} and ${model.name}).`, {
            hint: 'Each model name and alias must be unique.',
          });
        }
        this.#byName.set(name, model);
        if (!this.#byLowerName.has(name.toLowerCase())) this.#byLowerName.set(name.toLowerCase(), model);
      }
    }
  }

  /** The model a client's name (or alias) means, if any. */
  find(name: string): GatewayModelConfig | undefined {
    return this.#byName.get(name) ?? this.#byLowerName.get(name.toLowerCase());
  }

  /** Every name and alias. */
  names(): string[] {
    return [...this.#byName.keys()];
  }

  /** Up to `count` known names closest to `name` (edit distance, with a bonus for sharing a word). */
  closest(name: string, count = 3): string[] {
    const target = name.toLowerCase().slice(0, 200);
    const scored = this.names().map((candidate) => {
      const lower = candidate.toLowerCase();
      const shared = lower.includes(target) || target.includes(lower) ? -3 : 0;
      return { candidate, score: distance(target, lower) + shared };
    });
    return scored.sort((a, b) => a.score - b.score || a.candidate.localeCompare(b.candidate)).slice(0, count).map((s) => s.candidate);
  }
}

/** With no models configured: every complete model in the store, under its store name, with serve's defaults. */
export async function storeCatalogModels(env: NodeJS.ProcessEnv): Promise<GatewayModelConfig[]> {
  const stored = (await listModels(env)).filter((model) => !model.partial);
  return stored.map((model) => ({ name: model.name.replace(/\.llamafile$/i, ''), model: model.path, aliases: [model.name] }));
}

/** Levenshtein distance, on strings already bounded in length. */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}
