import type { Metrics } from './types.js';

/**
 * Parses Prometheus text exposition (what `/metrics` returns) into numbers keyed by series name, labels included
 * as written: `llamacpp:prompt_tokens_total` → 42, `x{slot="0"}` → 1. `# HELP`/`# TYPE` lines and timestamps are
 * dropped; `NaN`, `+Inf` and `-Inf` are kept as the numbers they name.
 */
export function parsePrometheus(text: string): Metrics {
  const metrics: Metrics = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    // The series ends at the first space outside a label set.
    const labelsEnd = line.lastIndexOf('}');
    const split = line.indexOf(' ', labelsEnd === -1 ? 0 : labelsEnd);
    if (split === -1) continue;
    const name = line.slice(0, split);
    const value = parseValue(line.slice(split + 1).trim().split(/\s+/)[0] ?? '');
    if (value !== undefined) metrics[name] = value;
  }
  return metrics;
}

function parseValue(text: string): number | undefined {
  if (text === '+Inf' || text === 'Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  if (text === 'NaN') return Number.NaN;
  const value = Number(text);
  return text !== '' && !Number.isNaN(value) ? value : undefined;
}
