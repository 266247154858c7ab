import { execa } from 'execa';
import { chmod, mkdtemp, readFile, readlink, realpath, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STANDIN_VERSION_LINE, writeStandinLlamafile } from '../../../src/demo/standin-llamafile.js';
import { fixture, serveUntilLoaded } from '../../helpers/serve-until-loaded.js';


describe('stand-in llamafile', () => {
  let dir: string;
  let echoArgs: string;
  let gguf: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'llamactl-standin-'));
    // A fake "server" that prints each argument it gets on its own line.
    echoArgs = join(dir, 'echo-args.sh');
    await writeFile(echoArgs, '#!/bin/sh\nfor a in "$@"; do printf "[%s]\\n" "$a"; done\n');
    await chmod(echoArgs, 0o755);
    gguf = join(dir, 'm.gguf');
    await writeFile(gguf, Buffer.from('GGUF fake model bytes'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const run = async (file: string, args: string[]) => {
    const { stdout } = await execa(file, args, { env: { TMPDIR: dir } });
    return stdout.split('\n').map((line) => line.replace(/^\[|\]$/g, ''));
  };

  it('starts with the APE magic, is executable, and stores the GGUF 64 KiB-aligned', async () => {
    const path = join(dir, 'a.llamafile');
    const [entry] = await writeStandinLlamafile(path, { ggufPath: gguf, serverPath: echoArgs });
    const bytes = await readFile(path);
    expect(bytes.subarray(0, 8).toString()).toBe("MZqFpD='");
    expect(bytes.toString('latin1', 0, 4096)).toContain('TEST STAND-IN for the llamafile runtime');
    expect((await stat(path)).mode & 0o777).toBe(0o755);
    expect(entry!.dataOffset % 65536).toBe(0);
    expect(bytes.subarray(entry!.dataOffset, entry!.dataOffset + entry!.size).toString()).toBe('GGUF fake model bytes');
    const { stdout } = await execa(path, ['--version']);
    expect(stdout).toBe(STANDIN_VERSION_LINE);
    const viaSh = await execa('/bin/sh', [path, '--version']);
    expect(viaSh.stdout).toBe(STANDIN_VERSION_LINE);
  });

  it.each([
    {
      name: 'splices user args at `...`, drops llamafile-only flags, maps the embedded model',
      dotArgs: ['-m', 'm.gguf', '...', '--temp', '0.5'],
      user: ['--server', '--nobrowser', '--gpu', 'auto', '--host', '127.0.0.1', '-c', '64'],
      expected: ['-m', '<model>', '--host', '127.0.0.1', '-c', '64', '--temp', '0.5'],
    },
    {
      name: 'appends user args without `...` and keeps awkward values intact',
      dotArgs: ['-c', '2048'],
      user: ['--alias', "it's a model", '-m', '/zip/m.gguf'],
      expected: ['-c', '2048', '--alias', "it's a model", '-m', '<model>'],
    },
    {
      name: 'adds -m when neither .args nor the user name the model, keeps another -m as is',
      dotArgs: [],
      user: ['--port', '0'],
      expected: ['-m', '<model>', '--port', '0'],
    },
    {
      name: 'keeps a user model path that is not the embedded one',
      dotArgs: ['-m', 'm.gguf'],
      user: ['-m', '/elsewhere/x.gguf'],
      expected: ['-m', '<model>', '-m', '/elsewhere/x.gguf'],
    },
  ])('$name', async ({ dotArgs, user, expected }) => {
    const path = join(dir, 'args.llamafile');
    await writeStandinLlamafile(path, { ggufPath: gguf, serverPath: echoArgs, args: dotArgs });
    const lines = await run(path, user);
    const model = lines[expected.indexOf('<model>')]!;
    expect(model).toMatch(/llamactl-standin-[0-9a-f]+\.gguf$/);
    expect(await readFile(model, 'utf8')).toBe('GGUF fake model bytes');
    expect(lines).toEqual(expected.map((arg) => (arg === '<model>' ? model : arg)));
  });

  it('refuses modes other than the server', async () => {
    const path = join(dir, 'mode.llamafile');
    await writeStandinLlamafile(path, { ggufPath: gguf, serverPath: echoArgs });
    const result = await execa(path, ['--chat'], { reject: false, env: { TMPDIR: dir } });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('--chat is not supported');
  });

  it('writes ZIP64 records when forced, with the same data offsets', async () => {
    const path = join(dir, 'z64.llamafile');
    const [entry] = await writeStandinLlamafile(path, { ggufPath: gguf, serverPath: echoArgs, forceZip64: true });
    expect(entry!.zip64).toBe(true);
    const bytes = await readFile(path);
    expect(bytes.includes(Buffer.from([0x50, 0x4b, 0x06, 0x07]))).toBe(true);
    expect(await run(path, ['-c', '1'])).toEqual(['-m', expect.stringMatching(/\.gguf$/), '-c', '1']);
  });

  it('serves the tiny model through the real llama-server, exec-ing it (same pid)', async () => {
    const path = fixture('LLAMACTL_TEST_LLAMAFILE');
    const server = await serveUntilLoaded(
      path,
      ['--server', '--nobrowser', '--host', '127.0.0.1', '--port', '0', '-c', '256', '-ngl', '0', '-t', '1'],
      { TMPDIR: dir },
    );
    const { url } = server;
    try {
      expect(await readlink(`/proc/${server.pid}/exe`)).toBe(await realpath(fixture('LLAMACTL_TEST_SERVER')));
      const health = await fetch(`${url}/health`);
      expect(health.status).toBe(200);
      const completion = (await (
        await fetch(`${url}/completion`, { method: 'POST', body: JSON.stringify({ prompt: 'Hi', n_predict: 4 }) })
      ).json()) as { tokens_predicted: number };
      expect(completion.tokens_predicted).toBe(4);
    } finally {
      await server.stop();
    }
  });
});
