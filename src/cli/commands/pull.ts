import type { Command } from 'commander';
import { LlamactlError } from '../../errors.js';

export function registerPull(program: Command): void {
  program
    .command('pull')
    .description('(not built yet)')
    .allowUnknownOption()
    .action(() => {
      throw new LlamactlError('`llamactl pull` is not built yet.');
    });
}
