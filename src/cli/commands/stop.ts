import { Option, type Command } from 'commander';
import { UsageError } from '../../errors.js';
import { duration } from '../flags.js';
import { examples } from '../help.js';
import { printJson } from '../output.js';

export interface StopCommandOptions {
  /** Stop every detached server instead of the one named. */
  all?: boolean | undefined;
  /** Time between SIGTERM and SIGKILL. @default 5000 */
  graceMs?: number | undefined;
  json?: boolean | undefined;
}

/** `llamactl stop NAME` / `stop --all`: one line per stopped server (a JSON array with --json). */
export async function stopCommand(name: string | undefined, options: StopCommandOptions = {}): Promise<void> {
  if (Boolean(name) === Boolean(options.all)) throw new UsageError('Name one server, or pass --all.');
  const graceMs = options.graceMs ?? 5000;
  const { stopAllServers, stopServer } = await import('../../server/stop-detached.js');
  const stopped = options.all ? await stopAllServers({ graceMs }) : [await stopServer(name!, { graceMs })];
  if (options.json) return printJson(stopped);
  if (stopped.length === 0) process.stdout.write('No servers running.\n');
  for (const server of stopped) process.stdout.write(`Stopped ${server.name} (pid ${server.pid}).\n`);
}

export function registerStop(program: Command): void {
  program
    .command('stop')
    .description('Stop a detached server (SIGTERM, then SIGKILL after a grace period).')
    .argument('[name]', 'server name (or the model it serves)')
    .option('--all', 'stop every detached server')
    .addOption(
      new Option('--grace <seconds>', 'seconds between SIGTERM and SIGKILL')
        .argParser(duration('--grace', { unit: 's', allowZero: true }))
        .default(5000, '5'),
    )
    .option('--json', 'one JSON array of the stopped servers on stdout')
    .addHelpText('after', examples(['llamactl stop chat', 'llamactl stop --all']))
    .action((name: string | undefined, flags: { all?: boolean; grace: number; json?: boolean }) =>
      stopCommand(name, { all: flags.all, graceMs: flags.grace, json: flags.json }),
    );
}
