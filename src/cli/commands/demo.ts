import type { Command } from 'commander';
import { integer } from '../flags.js';
import { examples } from '../help.js';
import { formatBytes, formatDuration, printJson, withInterrupt } from '../output.js';

export interface DemoCommandOptions {
  /** @default 'Once upon a time' */
  prompt?: string | undefined;
  /** @default 48 */
  maxTokens?: number | undefined;
  json?: boolean | undefined;
}

/** `llamactl demo`: the whole job offline, step by step on stdout (NDJSON events and a result with --json). */
export async function demoCommand(options: DemoCommandOptions = {}): Promise<void> {
  const { runDemo } = await import('../../demo/run-demo.js');
  const out = process.stdout;
  const err = process.stderr;
  let streaming = false;
  const result = await withInterrupt((signal) =>
    runDemo({
      prompt: options.prompt,
      maxTokens: options.maxTokens,
      signal,
      onEvent: (event) => {
        if (options.json) {
          if (event.type !== 'pull' || event.event.type !== 'progress') printJson({ ...event, type: `demo-${event.type}` });
          return;
        }
        switch (event.type) {
          case 'step':
            out.write(`▸ ${event.message}\n`);
            if (event.step === 'generate') {
              out.write('  ');
              streaming = true;
            }
            break;
          case 'step-done':
            if (streaming) out.write('\n');
            streaming = false;
            out.write(`  ✓ ${event.message} [${formatDuration(event.ms)}]\n`);
            break;
          case 'engine-build':
            err.write(`  … ${event.message}\n`);
            break;
          case 'token':
            out.write(event.text.replace(/\n/g, ' '));
            break;
          case 'pull':
            if (event.event.type === 'shard-verified') out.write(`  · ${event.event.shard} sha256 verified\n`);
            break;
        }
      },
    }),
  );
  if (options.json) {
    printJson({ type: 'result', ...result });
    return;
  }
  out.write(
    `\nDemo complete in ${formatDuration(result.totalMs)}: pulled ${result.shards.length} shards into one ` +
      `${formatBytes(result.size)} llamafile (sha256 ${result.sha256.slice(0, 16)}…), served it, generated ` +
      `${result.prediction.metrics.output_token_count} tokens, stopped it.\n` +
      'With a real model: llamactl pull Mozilla/Meta-Llama-3.1-8B-Instruct-llamafile:Q4_K_M && llamactl serve <name>\n',
  );
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('Run the whole job end to end, offline: build the engine, pull a split llamafile, serve it, stream a completion, stop.')
    .option('-p, --prompt <text>', 'prompt to complete', 'Once upon a time')
    .option('--max-tokens <n>', 'tokens to generate', integer('--max-tokens'), 48)
    .option('--json', 'NDJSON events and a final result object on stdout')
    .addHelpText(
      'after',
      examples(['llamactl demo', 'llamactl demo --prompt "The llama said" --max-tokens 16', 'llamactl demo --json']),
    )
    .action((flags: DemoCommandOptions) => demoCommand(flags));
}
