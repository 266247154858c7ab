/** The fit check's per-process memo of header estimates: reused for the same file, read again once it changes. */
import { copyFile, mkdtemp, rm, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { estimateWeights } from '../../../src/server/check-fit.js';
import { testFixtures } from '../../helpers/engine.js';

const dir = await mkdtemp(join(tmpdir(), 'llamactl-estimate-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

test('the same weights at the same context are estimated once; a file changed in place is read again', async () => {
  const file = join(dir, 'model.gguf');
  await copyFile(testFixtures().ggufPath, file);
  const first = await estimateWeights(file, 256);
  expect(first.totalBytes).toBeGreaterThan(0);
  expect(await estimateWeights(file, 256)).toEqual(first);
  expect((await estimateWeights(file, 4096)).totalBytes).toBeGreaterThan(first.totalBytes);
  // Cut to a header nobody can read: a stale memo would still answer.
  await truncate(file, 16);
  await expect(estimateWeights(file, 256)).rejects.toThrow();
});
