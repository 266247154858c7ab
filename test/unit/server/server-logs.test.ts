import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { execa } from 'execa';
import { NotFoundError, UsageError } from '../../../src/errors.js';
import { saveServer } from '../../../src/store/servers.js';
import { processStartTime } from '../../../src/system/process-facts.js';
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

test('a log that is a FIFO or a directory is refused by what it is, at once (a plain open of a FIFO blocks)', async () => {
  await execa('mkfifo', [join(home, 'run', 'pipe.log')]);
  await expect(read('pipe')).rejects.toThrow(/pipe\.log is a FIFO \(named pipe\), not a regular file/);
  await expect(readServerLog('pipe', { env, follow: true, onText: () => {} })).rejects.toBeInstanceOf(UsageError);
  await mkdir(join(home, 'run', 'dir.log'));
  await expect(read('dir')).rejects.toThrow(/dir\.log is a directory/);
});

test("a live server's log is <run>/<name>.log, whatever path its record names", async () => {
  await writeFile(join(home, 'secret.txt'), 'not a log\n');
  await writeFile(join(home, 'run', 'live.log'), 'the log\n');
  const startTime = (await processStartTime(process.pid))!;
  await saveServer(
    { name: 'live', pid: process.pid, startTime, url: 'http://127.0.0.1:1', host: '127.0.0.1', port: 1, model: '/m/x.llamafile', runtime: 'llamafile-legacy', healthPath: '/health', argv: [], logFile: join(home, 'secret.txt'), createdAt: '' },
    env,
  );
  expect(await read('live')).toBe('the log\n');
  expect(await read('x.llamafile')).toBe('the log\n');
});
