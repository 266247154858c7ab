/**
 * Gateways over the REAL engine for the gateway tests: three tiny models under different names — `tiny-a` (the cached
 * tiny GGUF), `tiny-b` (the same architecture with other random weights, so its text differs), `tiny-c` (the
 * llamafile stand-in) — each engine kept small (-c 256, one thread, one slot) for a 2-core machine.
 */
import { mkdtemp, readdir, readFile, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeTinyModel } from '../../src/demo/tiny-model.js';
import type { GatewayModelConfig } from '../../src/gateway/config.js';
import { estimateModelCost } from '../../src/gateway/model-cost.js';
import { startGateway, type Gateway, type StartGatewayOptions } from '../../src/gateway/start-gateway.js';
import { isAlive } from '../../src/system/process-facts.js';

export interface GatewayFixture {
  home: string;
  env: NodeJS.ProcessEnv;
  models: Record<'a' | 'b' | 'c', GatewayModelConfig>;
  /** Starts a gateway on a free port; stopped (and its engines checked gone) by `cleanup()`. */
  start(options?: Partial<StartGatewayOptions>): Promise<Gateway>;
  /** Every engine pid a gateway of this fixture has shown (for the process-table check). */
  seenPids: Set<number>;
  cleanup(): Promise<void>;
}

export async function gatewayFixture(): Promise<GatewayFixture> {
  const serverPath = process.env.LLAMACTL_TEST_SERVER!;
  const home = await mkdtemp(join(tmpdir(), 'llamactl-gateway-'));
  const otherWeights = join(home, 'tiny-b.gguf');
  await writeTinyModel(otherWeights, { vocabPath: process.env.LLAMACTL_TEST_VOCAB!, seed: 7 });
  const small = { ctxSize: 256, threads: 1, parallel: 1 };
  const models = {
    a: { name: 'tiny-a', model: process.env.LLAMACTL_TEST_GGUF!, runtime: serverPath, ...small, aliases: ['llamactl/tiny-a', '@cf/llamactl/tiny-a'] },
    b: { name: 'tiny-b', model: otherWeights, runtime: serverPath, ...small, aliases: ['llamactl/tiny-b'] },
    c: { name: 'tiny-c', model: process.env.LLAMACTL_TEST_LLAMAFILE!, ...small },
  };
  const env: NodeJS.ProcessEnv = { ...process.env, LLAMACTL_HOME: home };
  delete env.LLAMACTL_GATEWAY_KEY;
  const gateways: Gateway[] = [];
  const seenPids = new Set<number>();
  const fixture: GatewayFixture = {
    home,
    env,
    models,
    seenPids,
    async start(options = {}) {
      const gateway = await startGateway({ port: 0, ttlMs: 0, models: Object.values(models), env, ...options });
      gateways.push(gateway);
      const models0 = gateway.models.bind(gateway);
      // Remember every engine pid the tests see, to check the process table at the end.
      gateway.models = () => {
        const list = models0();
        for (const model of list) if (model.pid) seenPids.add(model.pid);
        return list;
      };
      return gateway;
    },
    async cleanup() {
      for (const gateway of gateways.splice(0)) {
        gateway.models();
        await gateway.close({ graceMs: 0 });
      }
      const left = [...seenPids].filter((pid) => isAlive(pid));
      await rm(home, { recursive: true, force: true });
      if (left.length > 0) throw new Error(`engines left running: ${left.join(', ')}`);
    },
  };
  return fixture;
}

/** The memory estimates of the fixture's models, as the gateway computes them. */
export async function costs(fixture: GatewayFixture): Promise<Record<'a' | 'b' | 'c', number>> {
  const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((key) => estimateModelCost(fixture.models[key as 'a'], { env: fixture.env })));
  return { a: a!.ram, b: b!.ram, c: c!.ram };
}

/** Polls `check` until it returns true (a slow machine gets time; no timing is asserted). */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** An engine's port and its own API key, read from the process table as any local user of the same uid could. */
export async function engineAccess(pid: number): Promise<{ url: string; key: string }> {
  const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
  const environ = (await readFile(`/proc/${pid}/environ`, 'utf8')).split('\0');
  const port = argv[argv.indexOf('--port') + 1];
  const key = environ.find((entry) => entry.startsWith('LLAMA_API_KEY='))?.slice('LLAMA_API_KEY='.length) ?? '';
  return { url: `http://127.0.0.1:${port}`, key };
}

export function state(gateway: Gateway, name: string): string | undefined {
  return gateway.models().find((model) => model.name === name)?.state;
}

/**
 * The connections an engine has open, from the kernel's tables: its socket descriptors (/proc/PID/fd) found among
 * the established TCP connections (/proc/net/tcp, tcp6) and the connected Unix ones (/proc/net/unix).
 */
export async function engineConnections(pid: number): Promise<{ tcp: number; unix: number }> {
  const inodes = new Set<string>();
  for (const fd of await readdir(`/proc/${pid}/fd`)) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
    if (inode) inodes.add(inode);
  }
  const rows = async (file: string) => (await readFile(file, 'utf8').catch(() => '')).split('\n').slice(1).map((line) => line.trim().split(/\s+/));
  const tcpRows = [...(await rows('/proc/net/tcp')), ...(await rows('/proc/net/tcp6'))];
  // tcp: sl local rem st … uid timeout inode; unix: Num RefCount Protocol Flags Type St Inode Path (St 03: connected)
  const tcp = tcpRows.filter((row) => row[3] === '01' && inodes.has(row[9] ?? '')).length;
  const unix = (await rows('/proc/net/unix')).filter((row) => row[5] === '03' && inodes.has(row[6] ?? '')).length;
  return { tcp, unix };
}
