import type { Command } from 'commander';
import { LlamactlError } from '../../errors.js';

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('(not built yet)')
    .allowUnknownOption()
    .action(() => {
      throw new LlamactlError('`llamactl serve` is not built yet.');
    });
}
