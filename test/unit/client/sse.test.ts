import { describe, expect, it } from 'vitest';
import { decodeSse, SseDecoder, type SseEvent } from '../../../src/client/sse.js';

const encoder = new TextEncoder();

/** Feeds `bytes` cut at the given offsets and collects every event. */
function decodeSplit(bytes: Uint8Array, cuts: number[]): SseEvent[] {
  const decoder = new SseDecoder();
  const events: SseEvent[] = [];
  let previous = 0;
  for (const cut of [...cuts, bytes.length]) {
    events.push(...decoder.push(bytes.subarray(previous, cut)));
    previous = cut;
  }
  events.push(...decoder.end());
  return events;
}

const STREAM =
  'data: {"content":"Hél"}\n\n' +
  ': keep-alive comment\n\n' +
  'data: {"content":"lo 🦙"}\r\n\r\n' +
  'event: message\ndata: {"a":1}\ndata: {"b":2}\n\n' +
  'error: {"content":"slot unavailable"}\n\n' +
  'data: [DONE]\n\n';

const EXPECTED: SseEvent[] = [
  { kind: 'data', data: '{"content":"Hél"}' },
  { kind: 'data', data: '{"content":"lo 🦙"}' },
  { kind: 'data', event: 'message', data: '{"a":1}\n{"b":2}' },
  { kind: 'error', data: '{"content":"slot unavailable"}' },
  { kind: 'data', data: '[DONE]' },
];

describe('SseDecoder', () => {
  it('decodes a whole stream in one chunk', () => {
    expect(decodeSplit(encoder.encode(STREAM), [])).toEqual(EXPECTED);
  });

  it('gives the same events whatever single split point the bytes are cut at (inside UTF-8, \\r\\n, field names)', () => {
    const bytes = encoder.encode(STREAM);
    for (let cut = 1; cut < bytes.length; cut++) {
      expect(decodeSplit(bytes, [cut]), `cut at byte ${cut}`).toEqual(EXPECTED);
    }
  });

  it('gives the same events when fed one byte at a time', () => {
    const bytes = encoder.encode(STREAM);
    expect(decodeSplit(bytes, Array.from({ length: bytes.length - 1 }, (_, i) => i + 1))).toEqual(EXPECTED);
  });

  it('accepts bare \\r line endings, also when a \\r\\n pair is split across chunks', () => {
    const decoder = new SseDecoder();
    const events = [...decoder.push('data: a\r'), ...decoder.push('\ndata: b\r\r'), ...decoder.push('data: c\r'), ...decoder.push('\r')];
    expect(events).toEqual([
      { kind: 'data', data: 'a\nb' },
      { kind: 'data', data: 'c' },
    ]);
  });

  it('completes a last event that has no blank line after it (a stream cut short without [DONE])', () => {
    expect(decodeSplit(encoder.encode('data: {"x":1}\n\ndata: {"stop":true}'), [])).toEqual([
      { kind: 'data', data: '{"x":1}' },
      { kind: 'data', data: '{"stop":true}' },
    ]);
  });

  it('keeps a value that has no space after the colon, and only strips one space', () => {
    expect(decodeSplit(encoder.encode('data:x\n\ndata:  y\n\n'), [])).toEqual([
      { kind: 'data', data: 'x' },
      { kind: 'data', data: ' y' },
    ]);
  });

  it('ignores id, retry and unknown fields, and empty events', () => {
    expect(decodeSplit(encoder.encode('id: 1\nretry: 10\nfoo: bar\n\n\n\ndata: z\n\n'), [])).toEqual([{ kind: 'data', data: 'z' }]);
  });

  it('decodeSse works over any async iterable of chunks', async () => {
    async function* body() {
      const bytes = encoder.encode(STREAM);
      for (let offset = 0; offset < bytes.length; offset += 5) yield bytes.subarray(offset, offset + 5);
    }
    const events: SseEvent[] = [];
    for await (const event of decodeSse(body())) events.push(event);
    expect(events).toEqual(EXPECTED);
  });
});
