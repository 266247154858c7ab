import { Option, type Command } from 'commander';
import { ServerExitError, UsageError } from '../../errors.js';
import type { ServerExit } from '../../server/supervise.js';
import { collect, duration, integer } from '../flags.js';
import { examples } from '../help.js';
import { formatDuration, printJson, withInterrupt } from '../output.js';

export interface ServeFlags {
  force?: boolean;
  ctxSize?: number;
  gpuLayers?: number;
  host: string;
  port?: number;
  threads?: number;
  parallel?: number;
  apiKey?: string;
  runtime?: string;
  /** In ms. */
  timeout: number;
  detach?: boolean;
  name?: string;
  restart: string;
  json?: boolean;
  rpc?: string[];
}

/** llama.cpp spells some flags with one dash and several letters; commander only knows `--x`. */
const LLAMA_STYLE_FLAGS: Record<string, string> = { '-ngl': '--ngl', '-np': '--np' };

export function registerServe(program: Command): void {
  const command = program
    .command('serve')
    .description('Start a llamafile (or a .gguf with --runtime) as an HTTP server and wait until it is ready.')
    .argument('<model>', 'a model name from `llamactl ls`, a .llamafile path, or a .gguf path with --runtime')
    .argument('[engineArgs...]', 'extra engine flags, after --')
    .option('-c, --ctx-size <n>', 'context size (-c)', integer('--ctx-size'))
    .option('--ngl, --gpu-layers <n>', 'layers to offload to the GPU (also -ngl)', integer('--gpu-layers'))
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .option('--port <port>', 'port to bind (default: a free port)', integer('--port'))
    .option('-t, --threads <n>', 'CPU threads', integer('--threads'))
    .option('--np, --parallel <n>', 'parallel request slots (also -np)', integer('--parallel'))
    .addOption(
      new Option('--api-key <key>', "require an API key from clients; auto: a random one kept in the server's record, used by run/chat NAME")
        .env('LLAMACTL_API_KEY'),
    )
    .option('--runtime <path>', 'llamafile or llama-server binary to run the weights with (-m)')
    .addOption(
      new Option('--timeout <seconds>', 'give up when loading shows no progress for this long')
        .argParser(duration('--timeout'))
        .default(120_000, '120'),
    )
    .option('--detach', 'run in the background; return once ready (see ps / logs / stop)')
    .option('--name <name>', 'name for ps / logs / stop (default: from the model)')
    .option('--restart <policy>', 'no | on-failure: restart a crashed server with backoff', 'no')
    .option('--force', 'start even when the model will not fit in this machine\'s RAM')
    .option('--rpc <workers>', 'offload to llama.cpp RPC workers: HOST:PORT[=MEM],… (see llamactl worker; use -ngl 99)', collect)
    .option('--json', 'NDJSON events on stdout')
    .addHelpText(
      'after',
      examples([
        'llamactl serve Mozilla/Llama-3.2-1B-Instruct-llamafile:Q4_K_M',
        'llamactl serve ./model.llamafile --port 8080 -c 4096 -ngl 999',
        'llamactl serve ./model.gguf --runtime ./llamafile-0.9.3 --detach --name chat',
        'llamactl serve ./model.llamafile --detach --name chat --api-key auto   # then: llamactl run chat "Hi"',
        'LLAMACTL_API_KEY=$(cat ~/.my-key) llamactl serve ./model.llamafile --detach   # your own key, not on argv',
        'llamactl serve ./model.llamafile --restart on-failure -- --jinja',
        'llamactl serve ./model.gguf --rpc 10.0.0.2:50052,10.0.0.3:50052 -ngl 99',
      ]),
    )
    .action((model: string, engineArgs: string[], flags: ServeFlags, cmd: Command) =>
      serveCommand(model, engineArgs, {
        ...flags,
        verbose: Boolean(cmd.optsWithGlobals().verbose),
        apiKeyOnArgv: cmd.getOptionValueSource('apiKey') === 'cli',
      }),
    );
  const parseOptions = command.parseOptions.bind(command);
  command.parseOptions = (args) => {
    const end = args.indexOf('--');
    const mapped = args.map((arg, index) => (end === -1 || index < end ? (LLAMA_STYLE_FLAGS[arg] ?? arg) : arg));
    return parseOptions(mapped);
  };
}

/** `llamactl serve MODEL [-- engine args]`: start a server, say where it listens, and (in the foreground) wait for it. */
export async function serveCommand(
  model: string,
  engineArgs: string[],
  flags: ServeFlags & { verbose?: boolean; apiKeyOnArgv?: boolean },
): Promise<void> {
  if (flags.restart !== 'no' && flags.restart !== 'on-failure') {
    throw new UsageError(`Bad --restart ${JSON.stringify(flags.restart)}: use no or on-failure.`);
  }
  checkKeyFlags(flags);
  const { startServer } = await import('../../server/start-server.js');
  const rpcText = await import('../rpc-text.js');
  await withInterrupt(async (signal) => {
    const server = await startServer({
      model,
      runtime: flags.runtime,
      ctxSize: flags.ctxSize,
      gpuLayers: flags.gpuLayers,
      host: flags.host,
      port: flags.port,
      threads: flags.threads,
      parallel: flags.parallel,
      apiKey: flags.apiKey,
      extraArgs: engineArgs,
      timeoutMs: flags.timeout,
      name: flags.name,
      detach: flags.detach,
      restart: flags.restart as 'no' | 'on-failure',
      force: flags.force,
      rpc: flags.rpc,
      onRpc: (event) => {
        if (flags.json) return printJson({ ...event, type: `rpc-${event.type}` });
        const { describeRpcEvent } = rpcText;
        process.stderr.write(`llamactl: ${describeRpcEvent(event)}\n`);
      },
      onFit: (fit) => {
        if (fit.level === 'ok') return;
        if (flags.json) printJson({ type: 'fit', ...fit });
        else if (fit.level !== 'too-big' || flags.force || flags.gpuLayers) {
          process.stderr.write(`llamactl: warning: ${fit.message}${'hint' in fit && fit.hint ? ` ${fit.hint}` : ''}\n`);
        }
      },
      signal,
      onLog: flags.verbose && !flags.detach ? (line) => process.stderr.write(`${line}\n`) : undefined,
      onRestart: (event) => {
        const text = `the server ${event.reason}; restarting (restart ${event.attempt}, ${event.retriesLeft} left)`;
        if (flags.json) printJson({ type: 'restart', ...event });
        else process.stderr.write(`llamactl: ${text}\n`);
      },
    });
    const ready = {
      type: 'ready', name: server.name, url: server.url, pid: server.pid, model: server.model,
      runtime: server.runtime.kind, gpu: server.gpu, readyMs: server.readyMs, logFile: server.logFile,
    };
    if (flags.json) printJson(ready);
    else {
      const gpu = server.gpu ? `, ${server.gpu.offloaded}/${server.gpu.total} layers on GPU` : '';
      process.stdout.write(`Serving ${model} at ${server.url} (${server.name}, pid ${server.pid}, ready in ${formatDuration(server.readyMs)}${gpu})\n`);
      process.stdout.write(flags.detach ? `Logs: llamactl logs ${server.name}   Stop: llamactl stop ${server.name}\n` : 'Press Ctrl-C to stop.\n');
    }
    if (flags.detach) return;
    const interrupted = new Promise<'interrupted'>((resolve) => signal.addEventListener('abort', () => resolve('interrupted'), { once: true }));
    let outcome: 'interrupted' | ServerExit;
    try {
      outcome = await Promise.race([server.wait(), interrupted]);
    } catch (error) {
      throw error instanceof ServerExitError ? withFlagHint(error, flags.restart) : error;
    } finally {
      await server.stop();
    }
    if (outcome === 'interrupted') {
      if (flags.json) printJson({ type: 'stopped', name: server.name });
      else process.stderr.write('llamactl: server stopped.\n');
      return;
    }
    // Shut down from outside (a SIGTERM, handled or not): not a failure, and not restarted.
    if (flags.json) printJson({ type: 'exited', name: server.name, exitCode: outcome.exitCode, signal: outcome.signal });
    else process.stderr.write(`llamactl: the server ${outcome.reason} (shut down from outside).\n`);
  });
}

/**
 * `--api-key auto` keeps its key in the record of a detached server, the only place run/chat find it: a foreground
 * serve writes none, so its key would be one nobody knows. A literal key on our argv is readable by every local user
 * (`ps aux`) for as long as a foreground serve runs: said once, with the two ways that avoid it.
 */
function checkKeyFlags(flags: ServeFlags & { apiKeyOnArgv?: boolean }): void {
  if (flags.apiKey === 'auto' && !flags.detach) {
    throw new UsageError('--api-key auto needs --detach: the key is kept in the server\'s record, which only a detached server has.', {
      hint: 'Add --detach (then `llamactl run NAME` / `chat NAME` use the key), or give your own key in LLAMACTL_API_KEY.',
    });
  }
  if (flags.apiKey !== undefined && flags.apiKey !== 'auto' && flags.apiKeyOnArgv) {
    process.stderr.write('llamactl: warning: a key on the command line is visible to every local user (ps); use --api-key auto with --detach, or LLAMACTL_API_KEY.\n');
  }
}

/** The library's hint for a crash names options; this one names the flags that help. */
function withFlagHint(error: ServerExitError, restart: string): ServerExitError {
  const hint = restart === 'on-failure'
    ? 'It kept failing and has no restarts left; its output says why (all of it with --verbose).'
    : 'Its output says why (all of it with --verbose); --restart on-failure restarts a crashed server.';
  return new ServerExitError(error.message, error.details, { hint, cause: error.cause });
}
