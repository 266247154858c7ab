/**
 * With no config and no models given, the gateway serves every model in the store under its store name, with
 * serve's defaults (REAL engine: the llamafile stand-in, placed in the store as `pull` would).
 */
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startGateway, type Gateway } from '../../src/gateway/start-gateway.js';
import { isAlive } from '../../src/system/process-facts.js';

let home: string;
let gateway: Gateway | undefined;
const pids: number[] = [];

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'llamactl-gateway-store-'));
  const dir = join(home, 'models', 'llamactl', 'tiny-llamafile');
  await mkdir(dir, { recursive: true });
  await copyFile(process.env.LLAMACTL_TEST_LLAMAFILE!, join(dir, 'Tiny-Standin.F16.llamafile'));
});
afterAll(async () => {
  await gateway?.close();
  await rm(home, { recursive: true, force: true });
  expect(pids.filter((pid) => isAlive(pid))).toEqual([]);
});

test('every model in the store, under its store name (and its file name), started with serve\'s defaults', async () => {
  const env: NodeJS.ProcessEnv = { ...process.env, LLAMACTL_HOME: home };
  delete env.LLAMACTL_GATEWAY_KEY;
  gateway = await startGateway({ port: 0, env });
  expect(gateway.models().map((m) => [m.name, m.aliases])).toEqual([['Tiny-Standin.F16', ['Tiny-Standin.F16.llamafile']]]);
  const openai = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'none', maxRetries: 0 });
  const answer = await openai.completions.create({ model: 'Tiny-Standin.F16.llamafile', prompt: 'Hi', max_tokens: 3 });
  expect(answer.usage?.completion_tokens).toBe(3);
  pids.push(gateway.models()[0]!.pid!);
});
