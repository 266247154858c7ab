import type { Command } from 'commander';
import { examples } from '../help.js';
import { formatBytes, printJson, withInterrupt } from '../output.js';
import { createProgressRenderer, progressMode } from '../progress.js';

export interface JoinCommandOptions {
  /** Overwrite an existing output file. */
  force?: boolean | undefined;
  json?: boolean | undefined;
  quiet?: boolean | undefined;
}

/** `llamactl join OUT SHARD…`: joins shards with progress on stderr, the result on stdout. */
export async function joinCommand(out: string, shards: string[], options: JoinCommandOptions = {}): Promise<void> {
  const { join } = await import('../../join.js');
  const renderer = await createProgressRenderer(progressMode(options), 'join');
  let result;
  try {
    result = await withInterrupt((signal) => join(out, shards, { force: options.force, signal, onProgress: renderer.onProgress }));
  } finally {
    renderer.stop();
  }
  if (options.json) return printJson({ type: 'result', ...result });
  process.stdout.write(`${result.path} (${formatBytes(result.size)} from ${result.shards.length} shards)\n`);
}

export function registerJoin(program: Command): void {
  program
    .command('join')
    .description('Join llamafile shards you already have (catN, in numeric order) into one executable file.')
    .argument('<out>', 'output file, or a folder to put Name.Q2_K.llamafile in')
    .argument('<shards...>', 'every shard of one set, in any order')
    .option('--force', 'overwrite an existing output file')
    .option('--json', 'NDJSON events and a final result object on stdout')
    .option('--quiet', 'no progress output')
    .addHelpText(
      'after',
      examples([
        'llamactl join . Meta-Llama-3.1-405B.Q2_K.cat*.llamafile',
        'llamactl join Mixtral.Q4_0.llamafile Mixtral-8x22B-Instruct-v0.1.Q4_0.llamafile.cat0 Mixtral-8x22B-Instruct-v0.1.Q4_0.llamafile.cat1',
      ]),
    )
    .action((out: string, shards: string[], flags: JoinCommandOptions) => joinCommand(out, shards, flags));
}
