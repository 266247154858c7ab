import type { Command } from 'commander';
import { LlamactlError } from '../../errors.js';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('(not built yet)')
    .allowUnknownOption()
    .action(() => {
      throw new LlamactlError('`llamactl demo` is not built yet.');
    });
}
