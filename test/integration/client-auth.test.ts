/** The client against a real engine started with an API key, in embeddings mode (`--embeddings --pooling mean`). */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { LlamafileClient } from '../../src/client/client.js';
import { AuthenticationError } from '../../src/errors.js';
import { startServer, type RunningServer } from '../../src/server/start-server.js';
import { testFixtures } from '../helpers/engine.js';

let home: string;
let server: RunningServer;

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'llamactl-client-auth-'));
  const { serverPath, ggufPath } = testFixtures();
  server = await startServer({
    model: ggufPath,
    runtime: serverPath,
    ctxSize: 256,
    parallel: 1,
    threads: 1,
    apiKey: 'sk-test-key',
    extraArgs: ['--embeddings', '--pooling', 'mean'],
    env: { ...process.env, LLAMACTL_HOME: home },
  });
});

afterAll(async () => {
  await server?.stop();
  await rm(home, { recursive: true, force: true });
});

it('answers 401 without the key (AuthenticationError with the server message); health stays public', async () => {
  const anonymous = new LlamafileClient({ baseUrl: server.url });
  const wrong = new LlamafileClient({ baseUrl: server.url, apiKey: 'nope' });
  try {
    expect((await anonymous.health()).ok).toBe(true);
    for (const client of [anonymous, wrong]) {
      const error = await client.embeddings({ input: 'hello' }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(AuthenticationError);
      expect(error).toMatchObject({ status: 401, serverMessage: 'Invalid API Key', exitCode: 9 });
    }
    await expect(anonymous.props()).rejects.toBeInstanceOf(AuthenticationError);
  } finally {
    await anonymous.close();
    await wrong.close();
  }
});

it('embeds one input or several with the key', async () => {
  const client = server.client;
  const one = await client.embeddings({ input: 'hello world' });
  expect(one.data).toHaveLength(1);
  const vector = one.data[0]!.embedding;
  expect(vector).toHaveLength(64);
  expect(vector.every(Number.isFinite)).toBe(true);
  const two = await client.embeddings({ input: ['hello world', 'something else'] });
  expect(two.data.map((item) => item.index)).toEqual([0, 1]);
  expect(two.data[0]!.embedding).toEqual(vector);
  expect(two.data[1]!.embedding).not.toEqual(vector);
});
