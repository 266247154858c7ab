import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { examples } from '../help.js';
import { formatDuration, printJson, withInterrupt } from '../output.js';

interface WorkerFlags {
  host: string;
  port: string;
  mem?: string;
  threads?: string;
  cache?: boolean;
  rpcServer?: string;
  detach?: boolean;
  name?: string;
  json?: boolean;
}

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description("Start a llama.cpp RPC worker (rpc-server) that a head's `serve --rpc` can offload layers to.")
    .option('--host <host>', 'address to bind (non-loopback only on a trusted network: no authentication)', '127.0.0.1')
    .option('--port <port>', 'port to bind (0: a free one)', '50052')
    .option('--mem <MB>', 'memory the worker reports, in MB (only rpc-server builds that still have -m)')
    .option('-t, --threads <n>', 'CPU threads')
    .option('--cache', "keep tensors the head sent in rpc-server's local file cache (quicker reloads)")
    .option('--rpc-server <path>', 'the rpc-server binary (default: beside llama-server, on PATH, or the engine build)')
    .option('--detach', 'run in the background; return once it accepts connections (see ps / logs / stop)')
    .option('--name <name>', 'name for ps / logs / stop (default: rpc-worker)')
    .option('--json', 'one JSON object on stdout once it accepts connections')
    .addHelpText(
      'after',
      examples([
        'llamactl worker --detach                         # 127.0.0.1:50052, for a head on this machine',
        'llamactl worker --host 10.0.0.2 --port 50052     # on the machine 10.0.0.2, over a private link',
        'llamactl serve model.gguf --runtime llama-server --rpc 10.0.0.2:50052,10.0.0.3:50052 -ngl 99',
      ]),
    )
    .action(async (flags: WorkerFlags) => {
      const { startWorker } = await import('../../worker/start-worker.js');
      await withInterrupt(async (signal) => {
        const worker = await startWorker({
          host: flags.host,
          port: integer('--port', flags.port),
          memMb: integer('--mem', flags.mem),
          threads: integer('--threads', flags.threads),
          cache: flags.cache,
          rpcServer: flags.rpcServer,
          detach: flags.detach,
          name: flags.name,
          signal,
          onWarning: (message) => process.stderr.write(`llamactl: WARNING: ${message}\n`),
        });
        const ready = {
          type: 'ready', name: worker.name, address: worker.address, pid: worker.pid, rpcServer: worker.rpcServer,
          protocol: worker.banner.version, devices: worker.banner.devices, readyMs: worker.readyMs, logFile: worker.logFile,
        };
        if (flags.json) printJson(ready);
        else {
          const devices = worker.banner.devices.map((d) => `${d.name} ${d.freeMiB} MiB free`).join(', ');
          process.stdout.write(
            `Worker ${worker.name} accepting at ${worker.address} (pid ${worker.pid}, RPC protocol ${worker.banner.version ?? '?'}` +
              `${devices ? `, ${devices}` : ''}, ready in ${formatDuration(worker.readyMs)})\n`,
          );
          process.stdout.write(
            `Head: llamactl serve MODEL --rpc ${worker.address} -ngl 99\n` +
              (flags.detach ? `Logs: llamactl logs ${worker.name}   Stop: llamactl stop ${worker.name}\n` : 'Press Ctrl-C to stop.\n'),
          );
        }
        if (flags.detach) return;
        const onAbort = new Promise<'interrupted'>((resolve) => signal.addEventListener('abort', () => resolve('interrupted'), { once: true }));
        const outcome = await Promise.race([worker.exited, onAbort]);
        await worker.stop();
        if (outcome === 'interrupted') {
          if (flags.json) printJson({ type: 'stopped', name: worker.name });
          else process.stderr.write('llamactl: worker stopped.\n');
          return;
        }
        const { ServerStartError } = await import('../../errors.js');
        throw new ServerStartError(
          `The worker ${outcome.reason}.${outcome.outputTail.trim() ? `\n--- last output ---\n${outcome.outputTail.trimEnd()}\n---` : ''}`,
          { command: worker.argv, exitCode: outcome.exitCode, signal: outcome.signal, outputTail: outcome.outputTail },
          { hint: 'Its output says why.' },
        );
      });
    });
}

function integer(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (value.trim() === '' || !Number.isInteger(parsed)) {
    throw new UsageError(`Bad ${flag} ${JSON.stringify(value)}: expected a whole number.`);
  }
  return parsed;
}
