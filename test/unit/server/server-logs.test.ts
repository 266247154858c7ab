import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { NotFoundError } from '../../../src/errors.js';
import { readServerLog } from '../../../src/server/server-logs.js';

let home: string;
let env: NodeJS.ProcessEnv;
beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'llamactl-logs-'));
  env = { LLAMACTL_HOME: home };
  await mkdir(join(home, 'run'), { recursive: true });
});
afterEach(() => rm(home, { recursive: true, force: true }));

const read = async (name: string) => {
  let text = '';
  await readServerLog(name, { env, onText: (piece) => (text += piece) });
  return text;
};

test('the log of a server that has exited stays readable by its name', async () => {
  await writeFile(join(home, 'run', 'gone.log'), 'llama server listening\n');
  expect(await read('gone')).toBe('llama server listening\n');
});

test('a name that is not a server name cannot reach a log file outside the run dir', async () => {
  await writeFile(join(home, 'secret.log'), 'not yours\n');
  await expect(read('../secret')).rejects.toBeInstanceOf(NotFoundError);
  await expect(read('missing')).rejects.toBeInstanceOf(NotFoundError);
});
