import type { Command } from 'commander';
import { examples } from '../help.js';
import { withInterrupt } from '../output.js';

export function registerLogs(program: Command): void {
  program
    .command('logs')
    .description("Print a detached server's log (kept after it exits, until a server of that name starts again).")
    .argument('<name>', 'server name (or the model it serves)')
    .option('-f, --follow', 'keep printing new output until the server exits or Ctrl-C')
    .addHelpText('after', examples(['llamactl logs chat', 'llamactl logs chat -f']))
    .action(async (name: string, flags: { follow?: boolean }) => {
      const { readServerLog } = await import('../../server/server-logs.js');
      await withInterrupt((signal) =>
        readServerLog(name, { follow: Boolean(flags.follow), signal, onText: (text) => process.stdout.write(text) }),
      );
    });
}
