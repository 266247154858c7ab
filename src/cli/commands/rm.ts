import type { Command } from 'commander';
import { LlamactlError } from '../../errors.js';

export function registerRm(program: Command): void {
  program
    .command('rm')
    .description('(not built yet)')
    .allowUnknownOption()
    .action(() => {
      throw new LlamactlError('`llamactl rm` is not built yet.');
    });
}
