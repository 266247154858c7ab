import type { Command } from 'commander';
import { LlamactlError } from '../../errors.js';

export function registerChat(program: Command): void {
  program
    .command('chat')
    .description('(not built yet)')
    .allowUnknownOption()
    .action(() => {
      throw new LlamactlError('`llamactl chat` is not built yet.');
    });
}
