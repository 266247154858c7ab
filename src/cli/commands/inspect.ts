import type { Command } from 'commander';
import type { InspectResult } from '../../inspect.js';
import { integer } from '../flags.js';
import { examples } from '../help.js';
import { formatBytes, formatDuration, printJson, withInterrupt } from '../output.js';
import { clipText } from '../../text/quote.js';
import { formatGiB } from '../../text/format-bytes.js';

export interface InspectCommandOptions {
  ctxSize?: number | undefined;
  json?: boolean | undefined;
  /** Fail with InsufficientMemoryError (exit 6) when the model will not fit in RAM. */
  requireFit?: boolean | undefined;
  revision?: string | undefined;
  file?: string | undefined;
  endpoint?: string | undefined;
  token?: string | undefined;
}

/** `llamactl inspect TARGET…`: the model's metadata and memory needs, as a table or JSON on stdout. */
export async function inspectCommand(targets: string[], options: InspectCommandOptions = {}): Promise<void> {
  const { inspect } = await import('../../inspect.js');
  const result = await withInterrupt((signal) =>
    inspect(targets, {
      ctxSize: options.ctxSize,
      revision: options.revision,
      file: options.file,
      endpoint: options.endpoint,
      token: options.token,
      signal,
      onRetry: ({ what, error, attempt, delayMs }) => {
        // On stderr in both modes: stdout holds the one result (a table, or one JSON object).
        process.stderr.write(`llamactl: ${clipText(what, 120)}: ${clipText(error.message.replace(/\.$/, ''), 300)}; retrying in ${formatDuration(delayMs)} (try ${attempt + 1})\n`);
      },
    }),
  );
  if (options.json) printJson(result);
  else process.stdout.write(render(result));
  if (options.requireFit && !result.fit.fits) {
    const { insufficientMemoryError } = await import('../../format/fit.js');
    throw insufficientMemoryError(result.fit);
  }
}


function render(r: InspectResult): string {
  const m = r.model;
  const rows: [string, string][] = [];
  const what = [m.architecture, m.sizeLabel, m.quantization].filter(Boolean).join(', ');
  rows.push(['Model', `${m.name ?? '(no name)'}${what ? ` (${what})` : ''}`]);
  const where = r.origin === 'remote' ? `${r.repo}@${r.commit?.slice(0, 12)}: ${r.files.join(', ')}` : r.files.join(', ');
  const layout =
    r.kind === 'gguf'
      ? 'GGUF'
      : `llamafile${r.ape ? ' (APE)' : ''}, ${r.ggufName} at byte ${r.ggufOffset}`;
  rows.push(['File', `${where} (${formatBytes(r.size)}; ${layout})`]);
  rows.push(['Context', m.contextLength === undefined ? 'unknown' : `${m.contextLength} tokens (trained)`]);
  const heads = m.headCount === undefined ? '' : ` · ${m.headCount} heads (${m.headCountKv} KV, head dim ${m.keyLength})`;
  rows.push(['Layers', `${m.blockCount ?? '?'} · embedding ${m.embeddingLength ?? '?'}${heads}`]);
  rows.push(['Vocabulary', `${m.vocabSize ?? '?'} tokens · chat template: ${m.chatTemplate ? 'yes' : 'no'}`]);
  rows.push(['Parameters', `${m.parameterCount.toLocaleString('en-US')} in ${m.tensorCount} tensors (${formatBytes(m.tensorBytes)})`]);
  rows.push(['Defaults', r.args === undefined ? '(no .args)' : r.args.length === 0 ? '(empty .args)' : r.args.join(' ')]);
  const e = r.memory;
  const ctxFrom = { option: '-c', args: '.args', default: 'llamafile default' }[r.ctxSource];
  rows.push([
    'Memory',
    `about ${formatGiB(e.totalBytes)} at a context of ${e.ctxSize} (${ctxFrom}): weights ${formatBytes(e.weightsBytes)} + ` +
      `KV cache ${e.kvCacheKnown ? formatBytes(e.kvCacheBytes) : 'unknown'} + margin ${formatBytes(e.marginBytes)} ` +
      `(10% + 256 MiB)`,
  ]);
  const verdict = { ok: 'fits', tight: 'fits in RAM, but not in what is free now', 'too-big': 'DOES NOT FIT' }[r.fit.level];
  rows.push(['This machine', `${formatGiB(r.fit.totalBytes)} RAM, ${formatGiB(r.fit.availableBytes)} available → ${verdict}`]);
  if (r.remote) {
    rows.push(['Remote read', `${r.remote.requests} HTTP requests, ${formatBytes(r.remote.bytes)} of ${formatBytes(r.size)}`]);
  }
  const width = Math.max(...rows.map(([k]) => k.length));
  // Names, .args and file names come from the file (or the hub): clipped, with control and bidi characters escaped.
  const lines = rows.map(([k, v]) => `${k.padEnd(width)}  ${clipText(v, 400)}`);
  if (r.fit.level !== 'ok') lines.push('', r.fit.message, ...(r.fit.hint ? [r.fit.hint] : []));
  return `${lines.join('\n')}\n`;
}

export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description("Show a model's metadata, default arguments and memory needs — locally, or remotely before a download.")
    .argument('<target...>', 'a .llamafile/.gguf path, .catN shard paths, a model in the store, or owner/repo[:QUANT]')
    .option('-c, --ctx-size <n>', 'context size for the memory estimate (default: .args, else 8192)', integer('--ctx-size', { min: 0 }))
    .option('--require-fit', 'exit with an error (code 6) when the model will not fit in RAM')
    .option('--revision <rev>', 'remote refs: branch, tag or commit', 'main')
    .option('--file <name>', 'remote refs: one file or shard set of the repo')
    .option('--endpoint <url>', 'hub URL (default $HF_ENDPOINT or https://huggingface.co)')
    .option('--token <token>', 'Hugging Face token (default $HF_TOKEN); sent only to the hub')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      examples([
        'llamactl inspect ./Meta-Llama-3.1-8B-Instruct.Q4_K_M.llamafile',
        'llamactl inspect Mozilla/Meta-Llama-3.1-405B-Instruct-llamafile:Q2_K   # before downloading',
        'llamactl inspect Model.Q2_K.cat0.llamafile -c 32768',
        'llamactl inspect Mozilla/Meta-Llama-3.1-8B-Instruct-llamafile:Q4_K_M --json',
      ]),
    )
    .action((targets: string[], flags: InspectCommandOptions) => inspectCommand(targets, flags));
}
