import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { examples } from '../help.js';
import { formatBytes, formatDuration, printJson, withInterrupt } from '../output.js';
import { createProgressRenderer, progressMode } from '../progress.js';

interface PullFlags {
  file?: string;
  dir?: string;
  revision: string;
  connections: string;
  endpoint?: string;
  token?: string;
  json?: boolean;
  quiet?: boolean;
  verify: boolean;
  stallTimeout: string;
  requireFit?: boolean;
  fitCheck: boolean;
  ctxSize?: string;
}

function positiveNumber(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${flag} must be a positive number, got ${JSON.stringify(value)}.`);
  return n;
}

export function registerPull(program: Command): void {
  program
    .command('pull')
    .description('Download a llamafile from Hugging Face: split ones joined on the fly, verified, resumable.')
    .argument('<ref>', 'owner/repo, owner/repo:QUANT, or a https://…/resolve/<rev>/<file> URL')
    .option('--file <name>', 'one file or shard set of the repo')
    .option('--dir <dir>', 'output folder (default: the model store)')
    .option('--revision <rev>', 'branch, tag or commit', 'main')
    .option('--connections <n>', 'concurrent connections', '8')
    .option('--endpoint <url>', 'hub URL (default $HF_ENDPOINT or https://huggingface.co)')
    .option('--token <token>', 'Hugging Face token (default $HF_TOKEN); sent only to the hub')
    .option('--json', 'NDJSON events and a final result object on stdout')
    .option('--quiet', 'no progress output')
    .option('--no-verify', 'skip the sha256 check')
    .option('--stall-timeout <seconds>', 're-issue a request that receives nothing for this long', '30')
    .option('--require-fit', 'refuse to download a model that will not fit in this machine\'s RAM (default: warn)')
    .option('--no-fit-check', 'skip reading the model header to check it fits in RAM')
    .option('-c, --ctx-size <n>', 'context size for the RAM estimate (default: the llamafile\'s own)')
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
    .action(async (ref: string, flags: PullFlags) => {
      const connections = positiveNumber('--connections', flags.connections);
      const stallTimeoutMs = positiveNumber('--stall-timeout', flags.stallTimeout) * 1000;
      const ctxSize = flags.ctxSize === undefined ? undefined : positiveNumber('--ctx-size', flags.ctxSize);
      const { pull } = await import('../../pull.js');
      const renderer = await createProgressRenderer(progressMode(flags));
      const started = Date.now();
      let result;
      try {
        result = await withInterrupt((signal) =>
          pull(ref, {
            file: flags.file,
            dir: flags.dir,
            revision: flags.revision,
            connections,
            endpoint: flags.endpoint,
            token: flags.token,
            verify: flags.verify,
            stallTimeoutMs,
            fitCheck: !flags.fitCheck ? 'off' : flags.requireFit ? 'require' : 'warn',
            ctxSize,
            signal,
            onProgress: renderer.onProgress,
          }),
        );
      } finally {
        renderer.stop();
      }
      if (flags.json) return printJson({ type: 'result', ...result });
      if (flags.quiet) return void process.stdout.write(`${result.path}\n`);
      const how = result.upToDate ? 'already complete and verified' : `${formatBytes(result.size)} in ${formatDuration(Date.now() - started)}${flags.verify ? ', sha256 verified' : ''}`;
      process.stdout.write(`${result.path} (${how})\n`);
    });
}
