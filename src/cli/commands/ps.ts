import type { Command } from 'commander';
import { examples } from '../help.js';
import { formatDuration, printJson } from '../output.js';

/**
 * `llamactl ps`: the detached servers with their live state, as a table or a JSON array on stdout. Whether a server
 * needs a key shows as KEY (`hasApiKey` in JSON); the key itself stays in the record file. A gateway lists
 * the models it holds under it (state, memory estimate, idle time, requests in flight).
 */
export async function psCommand(options: { json?: boolean | undefined } = {}): Promise<void> {
  const { listServers } = await import('../../store/servers.js');
  const servers = await listServers();
  const gateways = servers.filter((s) => s.kind === 'gateway' && s.state !== 'exited');
  const { gatewayModels } = gateways.length > 0 ? await import('../../gateway/gateway-record.js') : { gatewayModels: undefined };
  const held = new Map(await Promise.all(gateways.map(async (s) => [s.name, await gatewayModels!(s)] as const)));
  if (options.json) return printJson(servers.map((s) => (held.has(s.name) ? { ...s, models: held.get(s.name) ?? null } : s)));
  if (servers.length === 0) {
    process.stdout.write('No servers running. Start one with: llamactl serve <model> --detach\n');
    return;
  }
  const rows = [
    ['NAME', 'STATE', 'PID', 'URL', 'UPTIME', 'GPU', 'KEY', 'MODEL'],
    ...servers.map((s) => [
      s.name,
      s.state,
      String(s.pid),
      s.url,
      s.state === 'exited' ? '-' : formatDuration(Date.now() - Date.parse(s.createdAt)),
      s.gpu ? `${s.gpu.offloaded}/${s.gpu.total}` : '-',
      // Whether clients need a key (read from the record by run/chat NAME); never the key. A gateway has its own.
      s.kind === 'gateway' || s.kind === 'worker' ? '-' : s.hasApiKey ? 'yes' : 'no',
      s.model,
    ]),
  ];
  if (held.size > 0) {
    const { gatewayRows } = await import('../gateway-rows.js');
    for (const [name, models] of held) {
      const under = gatewayRows(models).map((row) => [...row.slice(0, -1), '', ...row.slice(-1)]);
      rows.splice(rows.findIndex((row) => row[0] === name) + 1, 0, ...under);
    }
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  for (const row of rows) {
    process.stdout.write(`${row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')}\n`);
  }
}

export function registerPs(program: Command): void {
  program
    .command('ps')
    .description('List servers started with `serve --detach`, workers and gateways, with live health.')
    .option('--json', 'one JSON array on stdout')
    .addHelpText('after', examples(['llamactl ps', 'llamactl ps --json']))
    .action((flags: { json?: boolean }) => psCommand(flags));
}
