import type { Command } from 'commander';
import { LlamactlError } from '../../errors.js';

export function registerStop(program: Command): void {
  program
    .command('stop')
    .description('(not built yet)')
    .allowUnknownOption()
    .action(() => {
      throw new LlamactlError('`llamactl stop` is not built yet.');
    });
}
