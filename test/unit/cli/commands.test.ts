/** Commands are plain async functions: called here directly, in this process, with no subprocess and no commander. */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { joinCommand } from '../../../src/cli/commands/join.js';
import { lsCommand } from '../../../src/cli/commands/ls.js';
import { stopCommand } from '../../../src/cli/commands/stop.js';
import { UsageError } from '../../../src/errors.js';

let dir: string;
let stdout: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'llamactl-commands-'));
  vi.stubEnv('LLAMACTL_HOME', join(dir, 'home'));
  stdout = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
});

afterEach(async () => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
  await rm(dir, { recursive: true, force: true });
});

describe('commands called as functions', () => {
  it('joinCommand joins the shards in numeric order and prints the result object', async () => {
    const parts = ['first part|', 'second part|', 'third part'];
    const shards = parts.map((_, i) => join(dir, `Tiny.Q2_K.cat${i}.llamafile`));
    await Promise.all(shards.map((shard, i) => writeFile(shard, parts[i]!)));
    await joinCommand(dir, [shards[2]!, shards[0]!, shards[1]!], { json: true });
    expect(await readFile(join(dir, 'Tiny.Q2_K.llamafile'), 'utf8')).toBe(parts.join(''));
    const result = JSON.parse(stdout.trim().split('\n').at(-1)!);
    expect(result).toMatchObject({ type: 'result', path: join(dir, 'Tiny.Q2_K.llamafile'), size: parts.join('').length });
    expect(result.shards.map((s: { name: string }) => s.name)).toEqual(shards.map((s) => s.slice(dir.length + 1)));
  });

  it('lsCommand reports an empty store', async () => {
    await lsCommand();
    expect(stdout).toBe(`No models in ${join(dir, 'home', 'models')}. Pull one with: llamactl pull owner/repo:QUANT\n`);
    stdout = '';
    await lsCommand({ json: true });
    expect(JSON.parse(stdout)).toEqual([]);
  });

  it('stopCommand refuses a name together with --all, and neither', async () => {
    await expect(stopCommand('chat', { all: true })).rejects.toThrow(UsageError);
    await expect(stopCommand(undefined, {})).rejects.toThrow('Name one server, or pass --all.');
  });
});
