import { Option, type Command } from 'commander';
import { formatBytes } from '../../text/format-bytes.js';
import { examples } from '../help.js';
import { printJson, withInterrupt } from '../output.js';

export interface ExtractCommandOptions {
  /** @default beside the llamafile, NAME.gguf */
  out?: string | undefined;
  /** @default 'auto' */
  method?: 'auto' | 'reflink' | 'copy' | undefined;
  json?: boolean | undefined;
}

/** `llamactl extract`: the GGUF inside a llamafile as a file of its own, and what it cost on disk. */
export async function extractCommand(target: string, options: ExtractCommandOptions = {}): Promise<void> {
  const [{ extractGguf }, { resolveModel }] = await Promise.all([import('../../extract.js'), import('../../server/resolve-model.js')]);
  // A store name resolves like `serve` does; any file path is taken as is.
  const path = (await resolveModel(target, process.execPath).catch(() => undefined))?.modelPath ?? target;
  const result = await withInterrupt((signal) => extractGguf(path, { out: options.out, method: options.method, signal }));
  if (options.json) return printJson({ type: 'extracted', ...result });
  const how = {
    none: 'is already a GGUF; nothing to do',
    existing: 'was extracted before; reused',
    reflink: 'shares its blocks with the llamafile (reflink): no extra disk',
    copy: `was copied: ${formatBytes(result.extraDiskBytes)} of extra disk (no reflink: ${result.reflinkUnavailable})`,
  }[result.method];
  process.stdout.write(`${result.path} (${formatBytes(result.bytes)}) ${how}\n`);
}

export function registerExtract(program: Command): void {
  program
    .command('extract')
    .description('Write the GGUF inside a llamafile as a file of its own (for llama-server, e.g. an RPC head).')
    .argument('<llamafile>', 'a .llamafile path, or a model name from `llamactl ls`')
    .option('-o, --out <path>', 'where to write it (default: beside the llamafile, NAME.gguf)')
    .addOption(
      new Option('--method <method>', 'auto: share blocks (reflink) where the filesystem can, else copy | reflink | copy')
        .choices(['auto', 'reflink', 'copy'])
        .default('auto'),
    )
    .option('--json', 'one JSON object on stdout')
    .addHelpText(
      'after',
      examples([
        'llamactl extract Meta-Llama-3.1-405B.Q2_K.llamafile            # reflink on btrfs/XFS, else a checked copy',
        'llamactl extract model.llamafile --method reflink              # never take a second copy of the disk',
      ]),
    )
    .action((target: string, flags: ExtractCommandOptions) => extractCommand(target, flags));
}
