import type { Command } from 'commander';
import { LlamactlError } from '../../errors.js';

export function registerPs(program: Command): void {
  program
    .command('ps')
    .description('(not built yet)')
    .allowUnknownOption()
    .action(() => {
      throw new LlamactlError('`llamactl ps` is not built yet.');
    });
}
