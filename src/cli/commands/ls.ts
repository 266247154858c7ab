import type { Command } from 'commander';
import { examples } from '../help.js';
import { formatBytes, printJson } from '../output.js';

/** `llamactl ls`: the models in the store, as a table or a JSON array on stdout. */
export async function lsCommand(options: { json?: boolean | undefined } = {}): Promise<void> {
  const { listModels } = await import('../../store/models.js');
  const { modelsDir } = await import('../../store/paths.js');
  const models = await listModels();
  if (options.json) return printJson(models);
  if (models.length === 0) {
    process.stdout.write(`No models in ${modelsDir()}. Pull one with: llamactl pull owner/repo:QUANT\n`);
    return;
  }
  const rows = [['NAME', 'SIZE', 'SOURCE', 'PATH'], ...models.map((m) => [m.partial ? `${m.name} (partial)` : m.name, m.partial && m.done !== undefined ? `${formatBytes(m.done)} of ${formatBytes(m.size)}` : formatBytes(m.size), m.repo ? `${m.repo}${m.commit ? `@${m.commit.slice(0, 10)}` : ''}` : '-', m.path])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  for (const row of rows) process.stdout.write(`${row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')}\n`);
}

export function registerLs(program: Command): void {
  program
    .command('ls')
    .description('List the models in the store.')
    .option('--json', 'one JSON array on stdout')
    .addHelpText('after', examples(['llamactl ls', 'llamactl ls --json']))
    .action((flags: { json?: boolean }) => lsCommand(flags));
}
