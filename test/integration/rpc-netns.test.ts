/**
 * Three hosts on one machine: the head and two workers in their own network namespaces, joined by veth pairs
 * (192.0.2.0/24 inside the namespaces only; tc netem delay where the kernel has it), against the REAL engine through
 * the CLI. Runs only as root where `ip netns` works; otherwise skipped, with the reason in the test name.
 */
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../../src/server/start-server.js';
import { isAlive } from '../../src/system/process-facts.js';
import { CLI, runCli } from '../helpers/cli.js';
// @ts-expect-error: a plain .mjs script shared with `npm run bench:rpc`
import { createLab, labAvailable } from '../../scripts/netns-lab.mjs';

const serverPath = process.env.LLAMACTL_TEST_SERVER!;
const rpcServer = process.env.LLAMACTL_TEST_RPC_SERVER!;
const ggufPath = process.env.LLAMACTL_TEST_GGUF!;
const available = (await labAvailable()) as { netns?: string; netem?: string };
const skip = available.netns;

interface Lab {
  ns: { head: string; a: string; b: string };
  workers: { ns: string; host: string }[];
  nobody: string;
  exec(ns: string, file: string, args: string[], options?: object): Promise<{ exitCode?: number; stdout: string; stderr: string }>;
  destroy(): Promise<void>;
}

let lab: Lab;
let home: string;
const pids: number[] = [];
const env = () => ({ ...process.env, LLAMACTL_HOME: home });
const cli = (ns: string, args: string[]) =>
  lab.exec(ns, process.execPath, [CLI, ...args], { env: env(), reject: false, timeout: 120_000, stdin: 'ignore' });

describe.skipIf(skip !== undefined)(`three hosts in network namespaces${skip ? ` (skipped: ${skip})` : ''}`, () => {
  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'llamactl-netns-'));
    // netem's delay where the kernel has it; plain veths (separate stacks and addresses, no delay) where not.
    lab = (await createLab({ delayMs: available.netem ? 0 : 5, rateMbit: 200 })) as Lab;
  });
  afterAll(async () => {
    await runCli(['stop', '--all'], { env: env() });
    for (const pid of pids) expect(isAlive(pid), `pid ${pid} left behind`).toBe(false);
    await lab?.destroy();
    const { stdout } = await execa('ip', ['netns', 'list']);
    expect(stdout).not.toMatch(/lcrpc-/);
    await rm(home, { recursive: true, force: true });
  });

  test(`head and two workers on 192.0.2.x${available.netem ? ` (no delay: ${available.netem})` : ' with 5 ms netem delay'}`, async () => {
    for (const [index, worker] of lab.workers.entries()) {
      const result = await cli(worker.ns, ['worker', '--host', worker.host, '--port', '50052', '-t', '1', '--rpc-server', rpcServer, '--detach', '--json', '--name', `ns-w${index}`]);
      expect(result.exitCode, result.stderr).toBe(0);
      expect(result.stderr).toMatch(/WARNING: Binding to 192\.0\.2\.\d+: llama\.cpp's RPC protocol has no authentication/);
      pids.push((JSON.parse(result.stdout) as { pid: number }).pid);
    }
    const rpc = lab.workers.map((worker) => `${worker.host}:50052`).join(',');
    const serve = await cli(lab.ns.head, ['serve', ggufPath, '--runtime', serverPath, '--rpc', rpc, '-ngl', '99', '-c', '256', '-t', '1', '--detach', '--json', '--name', 'ns-head']);
    expect(serve.exitCode, serve.stderr).toBe(0);
    const ready = serve.stdout.trim().split('\n').map((line) => JSON.parse(line) as { type: string; url?: string; pid?: number }).find((e) => e.type === 'ready')!;
    pids.push(ready.pid!);
    const body = JSON.stringify({ prompt: 'Once upon a time', n_predict: 24, temperature: 0, seed: 42 });
    const fetchScript = `const r = await fetch(process.argv[1] + '/completion', { method: 'POST', body: process.argv[2] }); process.stdout.write((await r.json()).content);`;
    const split = await lab.exec(lab.ns.head, process.execPath, ['--input-type=module', '-e', fetchScript, ready.url!, body], { timeout: 60_000 });

    await using single = await startServer({ model: ggufPath, runtime: serverPath, ctxSize: 256, threads: 1, parallel: 1, env: env() });
    const response = await fetch(`${single.url}/completion`, { method: 'POST', body });
    expect(split.stdout).toBe(((await response.json()) as { content: string }).content);
  });

  test('a worker address nobody holds, and one with no route, fail with their own errors within seconds', async () => {
    const started = Date.now();
    const nobody = await cli(lab.ns.head, ['serve', ggufPath, '--runtime', serverPath, '--rpc', `${lab.nobody}:50052`, '-ngl', '99']);
    expect(nobody.exitCode).toBe(7);
    expect(nobody.stderr).toMatch(new RegExp(`Cannot reach the worker at ${lab.nobody}:50052: there is no route to that host|The worker at ${lab.nobody}:50052 did not accept a connection within 3 s`));
    const unrouted = await cli(lab.ns.head, ['serve', ggufPath, '--runtime', serverPath, '--rpc', '192.0.2.99:50052', '-ngl', '99']);
    expect(unrouted.exitCode).toBe(7);
    expect(unrouted.stderr).toMatch(/Cannot reach the worker at 192\.0\.2\.99:50052: that network is unreachable from here/);
    expect(Date.now() - started).toBeLessThan(30_000);
  });
});
