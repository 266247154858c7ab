import { Option, type Command } from 'commander';
import { duration, integer, positive } from '../flags.js';
import { examples } from '../help.js';
import { formatBytes, formatDuration, printJson, withInterrupt } from '../output.js';
import { createProgressRenderer, progressMode } from '../progress.js';

export interface PullCommandOptions {
  file?: string | undefined;
  dir?: string | undefined;
  revision?: string | undefined;
  connections?: number | undefined;
  endpoint?: string | undefined;
  token?: string | undefined;
  json?: boolean | undefined;
  quiet?: boolean | undefined;
  /** Check sha256 (default true). */
  verify?: boolean | undefined;
  stallTimeoutMs?: number | undefined;
  fitCheck?: 'off' | 'warn' | 'require' | undefined;
  ctxSize?: number | undefined;
}

/** `llamactl pull REF`: download with progress on stderr, the path (or a result object with --json) on stdout. */
export async function pullCommand(ref: string, options: PullCommandOptions = {}): Promise<void> {
  const { pull } = await import('../../pull.js');
  const verify = options.verify ?? true;
  const renderer = await createProgressRenderer(progressMode(options));
  const started = Date.now();
  let result;
  try {
    result = await withInterrupt((signal) =>
      pull(ref, {
        file: options.file,
        dir: options.dir,
        revision: options.revision,
        connections: options.connections,
        endpoint: options.endpoint,
        token: options.token,
        verify,
        stallTimeoutMs: options.stallTimeoutMs,
        fitCheck: options.fitCheck,
        ctxSize: options.ctxSize,
        signal,
        onProgress: renderer.onProgress,
      }),
    );
  } finally {
    renderer.stop();
  }
  if (options.json) return printJson({ type: 'result', ...result });
  if (options.quiet) return void process.stdout.write(`${result.path}\n`);
  const how = result.upToDate ? 'already complete and verified' : `${formatBytes(result.size)} in ${formatDuration(Date.now() - started)}${verify ? ', sha256 verified' : ''}`;
  process.stdout.write(`${result.path} (${how})\n`);
}

interface PullFlags {
  file?: string;
  dir?: string;
  revision: string;
  connections: number;
  endpoint?: string;
  token?: string;
  json?: boolean;
  quiet?: boolean;
  verify: boolean;
  stallTimeout: number;
  requireFit?: boolean;
  fitCheck: boolean;
  ctxSize?: number;
}

export function registerPull(program: Command): void {
  program
    .command('pull')
    .description('Download a llamafile from Hugging Face: split ones joined on the fly, verified, resumable.')
    .argument('<ref>', 'owner/repo, owner/repo:QUANT, or a https://…/resolve/<rev>/<file> URL')
    .option('--file <name>', 'one file or shard set of the repo')
    .option('--dir <dir>', 'output folder (default: the model store)')
    .option('--revision <rev>', 'branch, tag or commit', 'main')
    .addOption(new Option('--connections <n>', 'concurrent connections').argParser(positive('--connections')).default(8))
    .option('--endpoint <url>', 'hub URL (default $HF_ENDPOINT or https://huggingface.co)')
    .option('--token <token>', 'Hugging Face token (default $HF_TOKEN); sent only to the hub')
    .option('--json', 'NDJSON events and a final result object on stdout')
    .option('--quiet', 'no progress output')
    .option('--no-verify', 'skip the sha256 check')
    .addOption(
      new Option('--stall-timeout <seconds>', 're-issue a request that receives nothing for this long')
        .argParser(duration('--stall-timeout', { unit: 's' }))
        .default(30_000, '30'),
    )
    .option('--require-fit', 'refuse to download a model that will not fit in this machine\'s RAM (default: warn)')
    .option('--no-fit-check', 'skip reading the model header to check it fits in RAM')
    .option('-c, --ctx-size <n>', 'context size for the RAM estimate (default: the llamafile\'s own)', integer('--ctx-size', { min: 1 }))
    .addHelpText(
      'after',
      examples([
        'llamactl pull Mozilla/Meta-Llama-3.1-8B-Instruct-llamafile:Q4_K_M',
        'llamactl pull Mozilla/Meta-Llama-3.1-405B-Instruct-llamafile:Q2_K --dir /data/models',
        'llamactl pull https://huggingface.co/Mozilla/Meta-Llama-3.1-405B-llamafile/resolve/main/Meta-Llama-3.1-405B.Q2_K.cat0.llamafile',
        'llamactl pull owner/repo --file Model.Q4_0.llamafile --json',
        'llamactl pull Mozilla/Meta-Llama-3.1-405B-Instruct-llamafile:Q2_K --require-fit -c 8192',
      ]),
    )
    .action((ref: string, flags: PullFlags) =>
      pullCommand(ref, {
        file: flags.file,
        dir: flags.dir,
        revision: flags.revision,
        connections: flags.connections,
        endpoint: flags.endpoint,
        token: flags.token,
        json: flags.json,
        quiet: flags.quiet,
        verify: flags.verify,
        stallTimeoutMs: flags.stallTimeout,
        fitCheck: !flags.fitCheck ? 'off' : flags.requireFit ? 'require' : 'warn',
        ctxSize: flags.ctxSize,
      }),
    );
}
