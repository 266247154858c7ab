import type { Command } from 'commander';
import { examples } from '../help.js';
import { formatDuration, printJson } from '../output.js';

/** `llamactl ps`: the detached servers with their live state, as a table or a JSON array on stdout. */
export async function psCommand(options: { json?: boolean | undefined } = {}): Promise<void> {
  const { listServers } = await import('../../store/servers.js');
  const servers = await listServers();
  if (options.json) return printJson(servers);
  if (servers.length === 0) {
    process.stdout.write('No servers running. Start one with: llamactl serve <model> --detach\n');
    return;
  }
  const rows = [
    ['NAME', 'STATE', 'PID', 'URL', 'UPTIME', 'GPU', 'MODEL'],
    ...servers.map((s) => [
      s.name,
      s.state,
      String(s.pid),
      s.url,
      s.state === 'exited' ? '-' : formatDuration(Date.now() - Date.parse(s.createdAt)),
      s.gpu ? `${s.gpu.offloaded}/${s.gpu.total}` : '-',
      s.model,
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  for (const row of rows) {
    process.stdout.write(`${row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')}\n`);
  }
}

export function registerPs(program: Command): void {
  program
    .command('ps')
    .description('List servers started with `serve --detach`, with live health.')
    .option('--json', 'one JSON array on stdout')
    .addHelpText('after', examples(['llamactl ps', 'llamactl ps --json']))
    .action((flags: { json?: boolean }) => psCommand(flags));
}
