import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { examples } from '../help.js';
import { formatBytes, printJson, withInterrupt } from '../output.js';

export function registerExtract(program: Command): void {
  program
    .command('extract')
    .description("Write the GGUF inside a llamafile as a file of its own (for llama-server, e.g. an RPC head).")
    .argument('<llamafile>', 'a .llamafile path, or a model name from `llamactl ls`')
    .option('-o, --out <path>', 'where to write it (default: beside the llamafile, NAME.gguf)')
    .option('--method <method>', 'auto: share blocks (reflink) where the filesystem can, else copy | reflink | copy', 'auto')
    .option('--json', 'one JSON object on stdout')
    .addHelpText(
      'after',
      examples([
        'llamactl extract Meta-Llama-3.1-405B.Q2_K.llamafile            # reflink on btrfs/XFS, else a checked copy',
        'llamactl extract model.llamafile --method reflink              # never take a second copy of the disk',
      ]),
    )
    .action(async (target: string, flags: { out?: string; method: string; json?: boolean }) => {
      if (!['auto', 'reflink', 'copy'].includes(flags.method)) {
        throw new UsageError(`Bad --method ${JSON.stringify(flags.method)}: use auto, reflink or copy.`);
      }
      const [{ extractGguf }, { resolveModel }] = await Promise.all([import('../../extract.js'), import('../../server/resolve-model.js')]);
      // A store name resolves like `serve` does; any file path is taken as is.
      const path = (await resolveModel(target, process.execPath).catch(() => undefined))?.modelPath ?? target;
      const result = await withInterrupt((signal) =>
        extractGguf(path, { out: flags.out, method: flags.method as 'auto' | 'reflink' | 'copy', signal }),
      );
      if (flags.json) return printJson({ type: 'extracted', ...result });
      const how = {
        none: 'is already a GGUF; nothing to do',
        existing: 'was extracted before; reused',
        reflink: 'shares its blocks with the llamafile (reflink): no extra disk',
        copy: `was copied: ${formatBytes(result.extraDiskBytes)} of extra disk (no reflink: ${result.reflinkUnavailable})`,
      }[result.method];
      process.stdout.write(`${result.path} (${formatBytes(result.bytes)}) ${how}\n`);
    });
}
