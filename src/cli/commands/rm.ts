import type { Command } from 'commander';
import { examples } from '../help.js';
import { formatBytes, printJson } from '../output.js';

/** `llamactl rm NAME`: removes a model (or its partial download) from the store. */
export async function rmCommand(name: string, options: { json?: boolean | undefined } = {}): Promise<void> {
  const { removeModel } = await import('../../store/models.js');
  const model = await removeModel(name);
  if (options.json) return printJson(model);
  process.stdout.write(`Removed ${model.partial ? `the partial download of ${model.path}` : model.path} (${formatBytes(model.size)})\n`);
}

export function registerRm(program: Command): void {
  program
    .command('rm')
    .description('Remove a model from the store.')
    .argument('<name>', 'owner/repo, owner/repo:QUANT or the file name (see llamactl ls)')
    .option('--json', 'print the removed model as JSON')
    .addHelpText('after', examples(['llamactl rm Mozilla/Meta-Llama-3.1-8B-Instruct-llamafile:Q4_K_M', 'llamactl rm Meta-Llama-3.1-8B-Instruct.Q4_K_M.llamafile']))
    .action((name: string, flags: { json?: boolean }) => rmCommand(name, flags));
}
