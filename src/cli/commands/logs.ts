import type { Command } from 'commander';
import { LlamactlError } from '../../errors.js';

export function registerLogs(program: Command): void {
  program
    .command('logs')
    .description('(not built yet)')
    .allowUnknownOption()
    .action(() => {
      throw new LlamactlError('`llamactl logs` is not built yet.');
    });
}
