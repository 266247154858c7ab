import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { examples } from '../help.js';
import { printJson, withInterrupt } from '../output.js';

export interface GatewayFlags {
  config?: string;
  host?: string;
  port?: string;
  apiKey: string[];
  memoryBudget?: string;
  gpuMemoryBudget?: string;
  ttl?: string;
  detach?: boolean;
  name?: string;
  insecure?: boolean;
  json?: boolean;
}

/** Set in a detached gateway's environment: its name, and the API keys (never on its argv). */
export const CHILD_ENV = 'LLAMACTL_GATEWAY_CHILD';
export const KEYS_ENV = 'LLAMACTL_GATEWAY_KEYS';

export function registerGateway(program: Command): void {
  program
    .command('gateway')
    .description('One endpoint for every model (OpenAI, Replicate and Workers AI APIs), loading models on demand within a memory budget.')
    .option('--config <file>', 'gateway config, YAML or JSON (default: $LLAMACTL_HOME/gateway.yaml if present)')
    .option('--host <host>', 'address to bind (default 127.0.0.1)')
    .option('--port <port>', 'port to bind (default 8181)')
    .option('--api-key <key>', 'require this key (repeatable; also LLAMACTL_GATEWAY_KEY)', (value: string, all: string[]) => [...all, value], [])
    .option('--memory-budget <size>', 'RAM the models may take together, e.g. 48GB (default: this machine\'s RAM)')
    .option('--gpu-memory-budget <size>', 'GPU memory the offloaded layers may take together')
    .option('--ttl <duration>', 'unload a model idle this long, e.g. 10m (0 = never; default 10m)')
    .option('--detach', 'run in the background; return once it listens (see ps / logs / stop)')
    .option('--name <name>', 'name for ps / logs / stop', 'gateway')
    .option('--insecure', 'allow a non-loopback --host without an API key')
    .option('--json', 'NDJSON events on stdout (with --detach: one object with url and pid)')
    .addHelpText(
      'after',
      examples([
        'llamactl gateway',
        'llamactl gateway --config gateway.yaml --memory-budget 48GB --ttl 10m',
        'LLAMACTL_GATEWAY_KEY=secret llamactl gateway --detach --json',
        'llamactl stop gateway',
      ]),
    )
    .action(async (flags: GatewayFlags) => {
      const options = await gatewayOptions(flags);
      if (flags.detach && !process.env[CHILD_ENV]) {
        const { detachGateway } = await import('../gateway-detach.js');
        const ready = await detachGateway(flags, options.apiKeys ?? []);
        if (flags.json) printJson({ type: 'ready', ...ready });
        else process.stdout.write(`Gateway ${ready.name} listening at ${ready.url} (pid ${ready.pid}). Logs: llamactl logs ${ready.name}   Stop: llamactl stop ${ready.name}\n`);
        return;
      }
      await runForeground(flags, options);
    });
}

async function runForeground(flags: GatewayFlags, options: Awaited<ReturnType<typeof gatewayOptions>>): Promise<void> {
  const { startGateway } = await import('../../gateway/start-gateway.js');
  const child = process.env[CHILD_ENV];
  const record = child ? await import('../../gateway/gateway-record.js') : undefined;
  const adminKey = child ? await record!.writeAdminKey(child) : undefined;
  await withInterrupt(async (signal) => {
    const gateway = await startGateway({
      ...options,
      adminKey,
      onEvent: (event) => {
        if (flags.json) return printJson(event);
        const text = event.type === 'load' ? `loaded ${event.model} in ${Math.round(event.ms)} ms`
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
        await record!.saveGatewayRecord(gateway, { name: child, config: flags.config, argv }, undefined);
        process.send?.({ type: 'ready', name: child, url: gateway.url, pid: process.pid }, undefined, {}, () => process.disconnect?.());
      }
      const names = gateway.models().map((model) => model.name);
      if (flags.json) printJson({ type: 'ready', url: gateway.url, pid: process.pid, models: names });
      else process.stdout.write(`Gateway listening at ${gateway.url} (${names.length} model(s): ${names.slice(0, 8).join(', ')}${names.length > 8 ? ', …' : ''}). Press Ctrl-C to stop.\n`);
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      process.stderr.write('llamactl: stopping the gateway (in-flight requests may finish first)\n');
    } finally {
      await gateway.close();
      if (child) await record!.removeGatewayRecord(child);
    }
  });
}

/** Flags (and, for a detached child, its environment) → startGateway options. */
async function gatewayOptions(flags: GatewayFlags) {
  const { parseDuration, parseSize } = await import('../../gateway/units.js');
  const size = (flag: string, value: string | undefined) => {
    if (value === undefined) return undefined;
    const parsed = parseSize(value);
    if (parsed === undefined) throw new UsageError(`Bad ${flag} ${JSON.stringify(value)}: expected a size such as 48GB or 512MiB.`);
    return parsed;
  };
  const port = flags.port === undefined ? undefined : Number(flags.port);
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) throw new UsageError(`Bad --port ${JSON.stringify(flags.port)}.`);
  const ttlMs = flags.ttl === undefined ? undefined : parseDuration(flags.ttl);
  if (flags.ttl !== undefined && ttlMs === undefined) throw new UsageError(`Bad --ttl ${JSON.stringify(flags.ttl)}: expected a duration such as 10m, 30s or 0.`);
  const inherited = process.env[CHILD_ENV] ? (JSON.parse(process.env[KEYS_ENV] ?? '[]') as string[]) : [];
  delete process.env[KEYS_ENV];
  const apiKeys = [...flags.apiKey, ...inherited];
  return {
    config: flags.config,
    host: flags.host,
    port,
    apiKeys: apiKeys.length > 0 ? apiKeys : undefined,
    memoryBudget: size('--memory-budget', flags.memoryBudget),
    gpuMemoryBudget: size('--gpu-memory-budget', flags.gpuMemoryBudget),
    ttlMs,
    insecure: flags.insecure,
  };
}
