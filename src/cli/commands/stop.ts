import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { examples } from '../help.js';
import { printJson } from '../output.js';

export function registerStop(program: Command): void {
  program
    .command('stop')
    .description('Stop a detached server (SIGTERM, then SIGKILL after a grace period).')
    .argument('[name]', 'server name (or the model it serves)')
    .option('--all', 'stop every detached server')
    .option('--grace <seconds>', 'seconds between SIGTERM and SIGKILL', '5')
    .option('--json', 'one JSON array of the stopped servers on stdout')
    .addHelpText('after', examples(['llamactl stop chat', 'llamactl stop --all']))
    .action(async (name: string | undefined, flags: { all?: boolean; grace: string; json?: boolean }) => {
      if (Boolean(name) === Boolean(flags.all)) throw new UsageError('Name one server, or pass --all.');
      const graceMs = Number(flags.grace) * 1000;
      if (!Number.isFinite(graceMs) || graceMs < 0) throw new UsageError(`Bad --grace ${JSON.stringify(flags.grace)}.`);
      const { stopAllServers, stopServer } = await import('../../server/stop-detached.js');
      const stopped = flags.all ? await stopAllServers({ graceMs }) : [await stopServer(name!, { graceMs })];
      if (flags.json) return printJson(stopped);
      if (stopped.length === 0) process.stdout.write('No servers running.\n');
      for (const server of stopped) process.stdout.write(`Stopped ${server.name} (pid ${server.pid}).\n`);
    });
}
