/**
 * Property tests for what arrives as text from servers and users: the SSE decoder, model refs and shard grouping.
 * Each must return a value or throw a LlamactlError, never hang, never hold memory in proportion to what a peer
 * claims or sends without end.
 */
import { describe, expect, it } from 'vitest';
import { LlamactlError } from '../../src/errors.js';
import { SseDecoder } from '../../src/client/sse.js';
import { parseContentRange } from '../../src/http/content-range.js';
import { parseModelRef } from '../../src/hub/ref.js';
import { groupShardSets, selectShardSet } from '../../src/hub/shards.js';
import { property } from './random.js';

describe('protocol parsers on hostile input', () => {
  it('the SSE decoder yields events or throws a LlamactlError however the bytes are split', async () => {
    const encoder = new TextEncoder();
    const cases = await property('sse', (gen) => {
      const text = gen.text(400, 'data: {}"\\\n\r\n\r:event:error:id retry\u00e9');
      const bytes = encoder.encode(text);
      const cuts = Array.from({ length: gen.int(6) }, () => gen.int(bytes.length + 1)).sort((a, b) => a - b);
      return { bytes, cuts };
    }, ({ bytes, cuts }) => {
      const decoder = new SseDecoder();
      let from = 0;
      for (const cut of [...cuts, bytes.length]) {
        for (const event of decoder.push(bytes.subarray(from, cut))) {
          if (typeof event.data !== 'string') throw new Error('event without data');
        }
        from = cut;
      }
    });
    expect(cases).toBeGreaterThan(100);
  });

  it('the SSE decoder refuses an endless line instead of buffering it', () => {
    const decoder = new SseDecoder();
    const chunk = new Uint8Array(1 << 20).fill(0x61); // 'a' × 1 MiB, never a newline
    let thrown: unknown;
    try {
      for (let i = 0; i < 80; i++) decoder.push(chunk);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(LlamactlError);
  });

  it('Content-Range parses to a sane range or to nothing', async () => {
    const cases = await property('content-range', (gen) =>
      gen.pick(['bytes ', 'bytes=', '', 'items ']) + gen.text(40, '0123456789-/* ,'), (value) => {
      const range = parseContentRange(value);
      if (range === undefined) return;
      const sane = Number.isSafeInteger(range.first) && Number.isSafeInteger(range.last) && range.first <= range.last &&
        (range.total === undefined || (Number.isSafeInteger(range.total) && range.last < range.total));
      if (!sane) throw new Error(`accepted ${JSON.stringify(value)} as ${JSON.stringify(range)}`);
    });
    expect(cases).toBeGreaterThan(100);
    expect(parseContentRange('bytes 5-4/10')).toBeUndefined();
    expect(parseContentRange('bytes 0-9/5')).toBeUndefined();
    expect(parseContentRange(`bytes 0-1/${'9'.repeat(30)}`)).toBeUndefined();
  });

  it('model refs parse or throw a UsageError', async () => {
    const cases = await property('ref', (gen) => ({
      text: gen.pick(['', 'https://huggingface.co/', 'http://h/', 'o/r', 'o/r:Q4', './', '../']) +
        gen.text(80, 'abc/:.-_Q4K%?#@ \\'),
      file: gen.next() < 0.2 ? gen.text(20, 'ab./') : undefined,
    }), ({ text, file }) => parseModelRef(text, file));
    expect(cases).toBeGreaterThan(100);
  });

  it('shard grouping and selection return or throw a LlamactlError on any file list', async () => {
    const cases = await property('shards', (gen) => {
      const names = ['M.Q4_0', 'M.Q2_K', 'N.F16', 'M.Q4_0.llamafile'];
      const files = Array.from({ length: gen.int(12) }, () => {
        const base = gen.pick(names);
        const suffix = gen.pick(['.llamafile', '.gguf', '', '.txt']);
        const shard = gen.next() < 0.6 ? `.cat${gen.int(4)}` : '';
        return { path: gen.next() < 0.5 ? `${base}${shard}${suffix}` : `${base}${suffix}${shard}` };
      });
      return { files, quant: gen.next() < 0.3 ? gen.pick(['Q4_0', 'q2_k', 'x']) : undefined };
    }, ({ files, quant }) => selectShardSet(groupShardSets(files), { quant }));
    expect(cases).toBeGreaterThan(100);
  });

  it('choosing among 100,000 models is linear', () => {
    const files = Array.from({ length: 100_000 }, (_, i) => ({ path: `M${i}.Q4_0.llamafile` }));
    const started = process.hrtime.bigint();
    const choice = selectShardSet(groupShardSets(files), {});
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    expect('choices' in choice && choice.choices.length).toBe(100_000);
    expect(ms).toBeLessThan(5000); // quadratic took minutes here; linear takes well under a second
  });
});
