import type { Command } from 'commander';
import { LlamactlError } from '../../errors.js';

export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description('(not built yet)')
    .allowUnknownOption()
    .action(() => {
      throw new LlamactlError('`llamactl inspect` is not built yet.');
    });
}
