/**
 * What a file or a server says reaches a terminal only clipped and escaped: no escape sequences, no bidi overrides.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serverMessage } from '../../src/client/api-errors.js';
import { encodeGgufHeader } from '../../src/demo/gguf-writer.js';
import { GgufType } from '../../src/format/gguf-constants.js';
import { runCli } from '../helpers/cli.js';

const EVIL = 'evil\u001b[2J\u001b]0;owned\u0007\u202eelif.exe';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'llamactl-terminal-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('untrusted text on the terminal', () => {
  it('inspect shows a GGUF whose name carries escape sequences and a bidi override escaped', async () => {
    const { header } = encodeGgufHeader({
      kv: [
        { key: 'general.architecture', type: GgufType.STRING, value: 'llama' },
        { key: 'general.name', type: GgufType.STRING, value: `${EVIL}${'x'.repeat(5000)}` },
      ],
      tensors: [{ name: 'a', dims: [4], type: 0, data: new Uint8Array(16) }],
    });
    const path = join(dir, 'evil.gguf');
    await writeFile(path, Buffer.concat([header, Buffer.alloc(64)]));
    const result = await runCli(['inspect', path, '-c', '128'], { env: { ...process.env, LLAMACTL_HOME: join(dir, 'home') } });
    expect(result.exitCode).toBe(0);
    const modelLine = result.stdout.split('\n').find((line) => line.startsWith('Model'))!;
    expect(result.stdout).not.toMatch(/[\u001b\u0007\u202e]/);
    expect(modelLine).toContain('evil\\u001b[2J');
    expect(modelLine).toContain('\\u202e');
    expect(modelLine.length).toBeLessThan(600);
  });

  it("a server's error message is clipped and escaped before it becomes an error message", () => {
    const message = serverMessage({ error: { message: `${EVIL}${'y'.repeat(10_000)}` } });
    expect(message).not.toMatch(/[\u001b\u0007\u202e]/);
    expect(message.length).toBeLessThan(600);
    expect(serverMessage('Unauthorized: Invalid API Key')).toBe('Unauthorized: Invalid API Key');
  });
});
