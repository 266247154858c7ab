import type { Command } from 'commander';
import { LlamactlError } from '../../errors.js';

export function registerJoin(program: Command): void {
  program
    .command('join')
    .description('(not built yet)')
    .allowUnknownOption()
    .action(() => {
      throw new LlamactlError('`llamactl join` is not built yet.');
    });
}
