import type { Command } from 'commander';
import { integer } from '../flags.js';
import { examples } from '../help.js';
import { formatDuration, printJson, withInterrupt } from '../output.js';

export interface WorkerCommandOptions {
  /** @default '127.0.0.1' */
  host?: string | undefined;
  /** 0: a free port. @default 50052 */
  port?: number | undefined;
  /** Memory the worker reports, in MB (rpc-server builds that still have -m). */
  mem?: number | undefined;
  threads?: number | undefined;
  cache?: boolean | undefined;
  rpcServer?: string | undefined;
  detach?: boolean | undefined;
  name?: string | undefined;
  json?: boolean | undefined;
}

/**
 * `llamactl worker`: starts rpc-server and reports once it accepts connections; in the foreground it then runs until
 * Ctrl-C (a normal end) or until it dies (an error).
 */
export async function workerCommand(options: WorkerCommandOptions = {}): Promise<void> {
  const { startWorker } = await import('../../worker/start-worker.js');
  await withInterrupt(async (signal) => {
    const worker = await startWorker({
      host: options.host,
      port: options.port,
      memMb: options.mem,
      threads: options.threads,
      cache: options.cache,
      rpcServer: options.rpcServer,
      detach: options.detach,
      name: options.name,
      signal,
      onWarning: (message) => process.stderr.write(`llamactl: WARNING: ${message}\n`),
    });
    const ready = {
      type: 'ready', name: worker.name, address: worker.address, pid: worker.pid, rpcServer: worker.rpcServer,
      protocol: worker.banner.version, devices: worker.banner.devices, readyMs: worker.readyMs, logFile: worker.logFile,
    };
    if (options.json) printJson(ready);
    else {
      const devices = worker.banner.devices.map((d) => `${d.name} ${d.freeMiB} MiB free`).join(', ');
      process.stdout.write(
        `Worker ${worker.name} accepting at ${worker.address} (pid ${worker.pid}, RPC protocol ${worker.banner.version ?? '?'}` +
          `${devices ? `, ${devices}` : ''}, ready in ${formatDuration(worker.readyMs)})\n`,
      );
      process.stdout.write(
        `Head: llamactl serve MODEL --rpc ${worker.address} -ngl 99\n` +
          (options.detach ? `Logs: llamactl logs ${worker.name}   Stop: llamactl stop ${worker.name}\n` : 'Press Ctrl-C to stop.\n'),
      );
    }
    if (options.detach) return;
    try {
      await worker.wait();
    } finally {
      await worker.stop();
    }
    if (options.json) printJson({ type: 'stopped', name: worker.name });
    else process.stderr.write('llamactl: worker stopped.\n');
  });
}

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description("Start a llama.cpp RPC worker (rpc-server) that a head's `serve --rpc` can offload layers to.")
    .option('--host <host>', 'address to bind (non-loopback only on a trusted network: no authentication)', '127.0.0.1')
    .option('--port <port>', 'port to bind (0: a free one)', integer('--port', { min: 0, max: 65535 }), 50052)
    .option('--mem <MB>', 'memory the worker reports, in MB (only rpc-server builds that still have -m)', integer('--mem', { min: 1 }))
    .option('-t, --threads <n>', 'CPU threads', integer('--threads', { min: 1 }))
    .option('--cache', "keep tensors the head sent in rpc-server's local file cache (quicker reloads)")
    .option('--rpc-server <path>', 'the rpc-server binary (default: beside llama-server, on PATH, or the llama.cpp build)')
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
    .action((flags: WorkerCommandOptions) => workerCommand(flags));
}
