import { createServer, type Server } from 'node:net';
import { afterEach, expect, test } from 'vitest';
import { PortInUseError } from '../../../src/errors.js';
import { assertPortFree, findFreePort } from '../../../src/server/ports.js';

let held: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (held ? held.close(() => resolve()) : resolve())));

test('a free port is free, a taken one is PortInUseError', async () => {
  const port = await findFreePort('127.0.0.1');
  expect(port).toBeGreaterThan(0);
  await assertPortFree('127.0.0.1', port);
  held = createServer();
  await new Promise<void>((resolve) => held!.listen(port, '127.0.0.1', resolve));
  const error = await assertPortFree('127.0.0.1', port).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(PortInUseError);
  expect((error as PortInUseError).port).toBe(port);
});
