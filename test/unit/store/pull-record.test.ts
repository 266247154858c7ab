import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';
import type { ModelRecord } from '../../../src/store/models.js';
import { readPullRecord, writePullRecord } from '../../../src/store/pull-record.js';

let dir: string;
let env: NodeJS.ProcessEnv;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'llamactl-record-'));
  env = { LLAMACTL_HOME: join(dir, 'home') };
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const record: ModelRecord = { commit: 'c0ffee', revision: 'main', size: 3, shards: [], pulledAt: '2026-11-23T00:00:00Z', verified: true };

test('pulls into other folders are recorded in the home, and records of files that are gone are dropped', async () => {
  const [a, b, c] = ['a.llamafile', 'b.llamafile', 'c.llamafile'].map((name) => join(dir, name));
  for (const path of [a!, b!, c!]) await writeFile(path, 'abc');
  await writePullRecord(a!, 'o/r', record, env);
  await writePullRecord(b!, 'o/r', record, env);
  expect(await readPullRecord(b!, env)).toMatchObject({ commit: 'c0ffee' });
  await rm(b!);
  await writePullRecord(c!, 'o/r', record, env);
  const saved = JSON.parse(await readFile(join(dir, 'home', 'elsewhere.json'), 'utf8')) as { files: Record<string, unknown> };
  expect(Object.keys(saved.files).sort()).toEqual([a, c].sort());
});
