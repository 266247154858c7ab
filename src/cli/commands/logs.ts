import type { Command } from 'commander';
import { examples } from '../help.js';
import { withInterrupt } from '../output.js';

/** `llamactl logs NAME [-f]`: a detached server's log on stdout. */
export async function logsCommand(name: string, options: { follow?: boolean | undefined } = {}): Promise<void> {
  const { readServerLog } = await import('../../server/server-logs.js');
  await withInterrupt((signal) =>
    readServerLog(name, { follow: Boolean(options.follow), signal, onText: (text) => process.stdout.write(text) }),
  );
}

export function registerLogs(program: Command): void {
  program
    .command('logs')
    .description("Print a detached server's log (kept after it exits, until a server of that name starts again).")
    .argument('<name>', 'server name (or the model it serves)')
    .option('-f, --follow', 'keep printing new output until the server exits or Ctrl-C')
    .addHelpText('after', examples(['llamactl logs chat', 'llamactl logs chat -f']))
    .action((name: string, flags: { follow?: boolean }) => logsCommand(name, flags));
}
