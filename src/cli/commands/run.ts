import type { Command } from 'commander';
import { LlamactlError } from '../../errors.js';

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('(not built yet)')
    .allowUnknownOption()
    .action(() => {
      throw new LlamactlError('`llamactl run` is not built yet.');
    });
}
