import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTinyModel, writeTinyModel } from '../../../src/demo/tiny-model.js';
import { readGguf, kvNumber, kvString } from '../../../src/format/gguf-reader.js';
import { FileSource } from '../../../src/format/source.js';
import { fixture, serveUntilLoaded } from '../../helpers/serve-until-loaded.js';


const sha256 = async (path: string) => createHash('sha256').update(await readFile(path)).digest('hex');

describe('tiny model', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'llamactl-tiny-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is a ~10 MB Llama GGUF with the vocabulary, ChatML markers and a chat template', async () => {
    const path = join(dir, 'tiny.gguf');
    await writeTinyModel(path, { vocabPath: fixture('LLAMACTL_TEST_VOCAB') });
    const size = (await stat(path)).size;
    expect(size).toBeGreaterThan(8e6);
    expect(size).toBeLessThan(12e6);
    const source = await FileSource.open(path);
    try {
      const meta = await readGguf(source);
      expect(kvString(meta, 'general.architecture')).toBe('llama');
      expect(kvNumber(meta, 'llama.block_count')).toBe(2);
      expect(kvNumber(meta, 'llama.embedding_length')).toBe(64);
      expect(kvString(meta, 'tokenizer.chat_template')).toContain('<|im_start|>');
      expect(meta.kv.get('tokenizer.ggml.tokens')!.value).toMatchObject({ length: 32002 });
      expect(meta.tensors).toHaveLength(2 + 2 * 9 + 1);
      const last = meta.tensors.at(-1)!;
      expect(meta.dataOffset + last.offset + last.bytes!).toBe(size);
    } finally {
      await source.close();
    }
  });

  it('is deterministic for a seed and different for another', async () => {
    const vocabPath = fixture('LLAMACTL_TEST_VOCAB');
    await writeTinyModel(join(dir, 'a.gguf'), { vocabPath });
    await writeTinyModel(join(dir, 'b.gguf'), { vocabPath, seed: 7 });
    expect(await sha256(join(dir, 'a.gguf'))).toBe(await sha256(join(dir, 'tiny.gguf')));
    expect(await sha256(join(dir, 'b.gguf'))).not.toBe(await sha256(join(dir, 'a.gguf')));
  });

  it('is cached under cacheDir()/fixtures keyed by its inputs', async () => {
    const sourceDir = join(fixture('LLAMACTL_TEST_VOCAB'), '..', '..');
    const env = { ...process.env, LLAMACTL_CACHE: join(dir, 'cache') };
    const first = await ensureTinyModel({ sourceDir }, env);
    expect(first.startsWith(join(dir, 'cache', 'fixtures'))).toBe(true);
    const before = (await stat(first)).mtimeMs;
    expect(await ensureTinyModel({ sourceDir }, env)).toBe(first);
    expect((await stat(first)).mtimeMs).toBe(before);
  });

  it('loads and serves in the real llama-server, JSON-schema grammar included', async () => {
    const server = await serveUntilLoaded(fixture('LLAMACTL_TEST_SERVER'), [
      '-m',
      fixture('LLAMACTL_TEST_GGUF'),
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '-c',
      '256',
      '-t',
      '1',
    ]);
    const { url } = server;
    try {
      const completion = (await (
        await fetch(`${url}/completion`, {
          method: 'POST',
          body: JSON.stringify({ prompt: 'Hello', n_predict: 8, temperature: 0 }),
        })
      ).json()) as { content: string; tokens_predicted: number };
      expect(completion.tokens_predicted).toBe(8);
      expect(completion.content.length).toBeGreaterThan(0);

      const response = await fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        body: JSON.stringify({
          messages: [{ role: 'user', content: 'Answer in JSON.' }],
          max_tokens: 40,
          response_format: {
            type: 'json_schema',
            json_schema: { schema: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] } },
          },
        }),
      });
      expect(response.status).toBe(200);
      const chat = (await response.json()) as { choices: [{ message: { content: string } }] };
      expect(typeof (JSON.parse(chat.choices[0].message.content) as { ok: unknown }).ok).toBe('boolean');
    } finally {
      await server.stop();
    }
  });
});
