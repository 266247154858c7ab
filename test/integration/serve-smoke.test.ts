import { expect, test } from 'vitest';
import { startServer } from '../../src/server/start-server.js';

test('smoke', async () => {
  const serverPath = process.env.LLAMACTL_TEST_SERVER!; const ggufPath = process.env.LLAMACTL_TEST_GGUF!;
  const lines: string[] = [];
  await using server = await startServer({ model: ggufPath, runtime: serverPath, ctxSize: 256, threads: 1, onLog: (l) => lines.push(l) });
  console.log(server.url, server.pid, server.readyMs, server.runtime);
  const health = await server.client.health();
  expect(health.ok).toBe(true);
});
