import type { Command } from 'commander';
import type { StartGatewayOptions } from '../../gateway/start-gateway.js';
import { collect, duration, integer, size } from '../flags.js';
import { CHILD_ENV, KEYS_ENV } from '../gateway-child.js';
import { examples } from '../help.js';
import { printJson, withInterrupt } from '../output.js';

export interface GatewayCommandOptions {
  /** A YAML or JSON config file (default `$LLAMACTL_HOME/gateway.yaml` if present). */
  config?: string | undefined;
  host?: string | undefined;
  port?: number | undefined;
  apiKey?: string[] | undefined;
  /** Bytes. */
  memoryBudget?: number | undefined;
  /** Bytes. */
  gpuMemoryBudget?: number | undefined;
  /** Idle unload; 0 = never. */
  ttlMs?: number | undefined;
  detach?: boolean | undefined;
  /** For ps / logs / stop. @default 'gateway' */
  name?: string | undefined;
  insecure?: boolean | undefined;
  /** Host names requests may name besides this machine's (a reverse proxy's); added to the config's allowedHosts. */
  allowedHost?: string[] | undefined;
  json?: boolean | undefined;
}

/**
 * `llamactl gateway`: starts the gateway and runs until Ctrl-C / SIGTERM (in-flight requests may finish, then every
 * engine stops); with `detach`, starts it in the background and returns once it listens.
 */
export async function gatewayCommand(options: GatewayCommandOptions = {}): Promise<void> {
  // A detached child gets the keys through its environment, and drops them from it once read.
  const inherited = process.env[CHILD_ENV] ? (JSON.parse(process.env[KEYS_ENV] ?? '[]') as string[]) : [];
  delete process.env[KEYS_ENV];
  const apiKeys = [...(options.apiKey ?? []), ...inherited];
  if (options.detach && !process.env[CHILD_ENV]) {
    const { detachGateway } = await import('../gateway-detach.js');
    const ready = await detachGateway(options, apiKeys);
    if (options.json) printJson({ type: 'ready', ...ready });
    else process.stdout.write(`Gateway ${ready.name} listening at ${ready.url} (pid ${ready.pid}). Logs: llamactl logs ${ready.name}   Stop: llamactl stop ${ready.name}\n`);
    return;
  }
  await runForeground(options, {
    config: options.config,
    host: options.host,
    port: options.port,
    apiKeys: apiKeys.length > 0 ? apiKeys : undefined,
    memoryBudget: options.memoryBudget,
    gpuMemoryBudget: options.gpuMemoryBudget,
    ttlMs: options.ttlMs,
    insecure: options.insecure,
    allowedHosts: options.allowedHost,
  });
}

async function runForeground(options: GatewayCommandOptions, start: StartGatewayOptions): Promise<void> {
  const { startGateway } = await import('../../gateway/start-gateway.js');
  const child = process.env[CHILD_ENV];
  const record = child ? await import('../../gateway/gateway-record.js') : undefined;
  const adminKey = child ? await record!.writeAdminKey(child) : undefined;
  await withInterrupt(async (signal) => {
    const gateway = await startGateway({
      ...start,
      adminKey,
      onEvent: (event) => {
        if (options.json) return printJson(event);
        const text = event.type === 'loading' ? `loading ${event.model}`
          : event.type === 'load' ? `loaded ${event.model} in ${Math.round(event.ms)} ms`
          : event.type === 'unload' ? `unloaded ${event.model} (${event.reason})`
          : event.type === 'crash' ? `the engine of ${event.model} ${event.reason}`
          : event.type === 'load-failed' ? `could not load ${event.model}: ${event.message.split('\n')[0]}`
          : `warning: ${event.message}`;
        process.stderr.write(`llamactl: ${text}\n`);
      },
    });
    try {
      if (child) {
        const argv = process.argv.slice(1).map((arg, i, all) => (all[i - 1] === '--api-key' ? '<redacted>' : arg));
        await record!.saveGatewayRecord(gateway, { name: child, config: options.config, argv }, undefined);
        process.send?.({ type: 'ready', name: child, url: gateway.url, pid: process.pid }, undefined, {}, () => process.disconnect?.());
      }
      const names = gateway.models().map((model) => model.name);
      if (options.json) printJson({ type: 'ready', url: gateway.url, pid: process.pid, models: names });
      else process.stdout.write(`Gateway listening at ${gateway.url} (${names.length} model(s): ${names.slice(0, 8).join(', ')}${names.length > 8 ? ', …' : ''}). Press Ctrl-C to stop.\n`);
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      process.stderr.write('llamactl: stopping the gateway (in-flight requests may finish first)\n');
    } finally {
      await gateway.close();
      if (child) await record!.removeGatewayRecord(child);
    }
  });
}

interface GatewayFlags extends Omit<GatewayCommandOptions, 'ttlMs'> {
  ttl?: number;
}

export function registerGateway(program: Command): void {
  program
    .command('gateway')
    .description('One endpoint for every model (OpenAI, Anthropic, Replicate and Workers AI APIs), loading models on demand within a memory budget.')
    .option('--config <file>', 'gateway config, YAML or JSON (default: $LLAMACTL_HOME/gateway.yaml if present)')
    .option('--host <host>', 'address to bind (default 127.0.0.1)')
    .option('--port <port>', 'port to bind (default 8181; 0: a free one)', integer('--port', { min: 0, max: 65535 }))
    .option('--api-key <key>', 'require this key (repeatable; also LLAMACTL_GATEWAY_KEY)', collect)
    .option('--memory-budget <size>', 'RAM the models may take together, e.g. 48GB (default: this machine\'s RAM)', size('--memory-budget'))
    .option('--gpu-memory-budget <size>', 'GPU memory the offloaded layers may take together', size('--gpu-memory-budget'))
    .option('--ttl <duration>', 'unload a model idle this long, e.g. 10m (0 = never; default 10m)', duration('--ttl', { allowZero: true }))
    .option('--detach', 'run in the background; return once it listens (see ps / logs / stop)')
    .option('--name <name>', 'name for ps / logs / stop', 'gateway')
    .option('--insecure', 'allow a non-loopback --host without an API key')
    .option('--allowed-host <name>', 'also answer requests whose Host is this name, e.g. a reverse proxy\'s (repeatable; *.domain for its subdomains)', collect)
    .option('--json', 'NDJSON events on stdout (with --detach: one object with url and pid)')
    .addHelpText(
      'after',
      examples([
        'llamactl gateway',
        'llamactl gateway --config gateway.yaml --memory-budget 48GB --ttl 10m',
        'LLAMACTL_GATEWAY_KEY=secret llamactl gateway --host 0.0.0.0 --allowed-host llm.home.arpa',
        'LLAMACTL_GATEWAY_KEY=secret llamactl gateway --detach --json',
        'llamactl stop gateway',
      ]),
    )
    .action(({ ttl, ...flags }: GatewayFlags) => gatewayCommand({ ...flags, ttlMs: ttl }));
}
