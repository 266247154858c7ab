import type { Command } from 'commander';
import { LlamactlError } from '../../errors.js';

export function registerLs(program: Command): void {
  program
    .command('ls')
    .description('(not built yet)')
    .allowUnknownOption()
    .action(() => {
      throw new LlamactlError('`llamactl ls` is not built yet.');
    });
}
