/**
 * EngineSocket: where an engine's Unix socket goes and how its file is removed — by remove(), at our exit, and, for a
 * llamactl killed before it could, by the next one.
 */
import { execa } from 'execa';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { EngineSocket } from '../../../src/server/engine-socket.js';

let home: string;
let env: NodeJS.ProcessEnv;
beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'llamactl-engine-socket-'));
  env = { LLAMACTL_HOME: home };
});
afterAll(() => rm(home, { recursive: true, force: true }));

const sockets = () => readdir(join(home, 'run', 'sockets'));

test('a fresh path under run/sockets (0700), named for this process; remove() takes its file away', async () => {
  const socket = (await EngineSocket.create(env))!;
  expect(socket.path).toMatch(new RegExp(`/run/sockets/${process.pid}-[0-9a-f]{16}\\.sock$`));
  expect((await stat(join(home, 'run', 'sockets'))).mode & 0o777).toBe(0o700);
  expect((await EngineSocket.create(env))!.path).not.toBe(socket.path);
  await writeFile(socket.path, ''); // what an engine's bind leaves
  socket.clear();
  expect(await sockets()).not.toContain(socket.path.split('/').pop());
  await writeFile(socket.path, '');
  socket.remove();
  expect(await sockets()).toEqual([]);
});

test("a dead llamactl's socket is removed by the next one; a live one's and other files are kept", async () => {
  const dir = join(home, 'run', 'sockets');
  await mkdir(dir, { recursive: true });
  const dead = (await execa(process.execPath, ['-e', 'console.log(process.pid)'])).stdout.trim();
  const files = [`${dead}-00112233445566ff.sock`, `${process.ppid}-00112233445566ff.sock`, 'notes.txt'];
  for (const name of files) await writeFile(join(dir, name), '');
  await EngineSocket.create(env);
  expect((await sockets()).sort()).toEqual(files.slice(1).sort());
  for (const name of files) await rm(join(dir, name), { force: true });
});

test('the file goes when the process exits, even without remove() (the built dist/)', async () => {
  const script = `
    const { EngineSocket } = await import(${JSON.stringify(new URL('../../../dist/server/engine-socket.js', import.meta.url).href)});
    const { writeFileSync } = await import('node:fs');
    const socket = await EngineSocket.create({ LLAMACTL_HOME: ${JSON.stringify(home)} });
    writeFileSync(socket.path, '');
    console.log(socket.path);
    process.exit(0);`;
  const { stdout } = await execa(process.execPath, ['--input-type=module', '-e', script]);
  expect(stdout).toMatch(/\.sock$/);
  expect(await sockets()).not.toContain(stdout.split('/').pop());
});

test('no socket where its path would not fit in sun_path (107 bytes)', async () => {
  expect(await EngineSocket.create({ LLAMACTL_HOME: join(home, 'x'.repeat(100)) })).toBeUndefined();
});
