import { describe, expect, test } from 'vitest';
import { ResponsesEventFixer } from '../../../src/gateway/responses-events.js';

const event = (type: string, data: object) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
const parse = (text: string) => text.split('\n\n').filter(Boolean).map((block) => JSON.parse(block.slice(block.indexOf('data: ') + 6)) as Record<string, unknown>);

describe('ResponsesEventFixer', () => {
  const stream = [
    event('response.created', { response: { id: 'r', object: 'response', status: 'in_progress' } }),
    event('response.output_item.added', { item: { id: 'm1', type: 'message', content: [] } }),
    event('response.output_text.delta', { item_id: 'm1', delta: 'hé' }),
    event('response.output_item.done', { item: { id: 'm1', type: 'message' } }),
    event('response.output_item.added', { item: { id: 'm2', type: 'message' } }),
    event('response.completed', { response: { id: 'r', model: 'engine-name', created_at: 5 } }),
  ].join('');

  test('fills what is missing, keeps what is there, whatever the chunking (split inside a UTF-8 character too)', () => {
    const bytes = Buffer.from(stream);
    for (const size of [1, 7, 64, bytes.length]) {
      const fixer = new ResponsesEventFixer('tiny');
      let out = '';
      for (let at = 0; at < bytes.length; at += size) out += fixer.push(bytes.subarray(at, at + size));
      out += fixer.end();
      const events = parse(out);
      expect(events.map((e) => e.sequence_number)).toEqual([0, 1, 2, 3, 4, 5]);
      expect(events[0]!.response).toMatchObject({ model: 'tiny', created_at: expect.any(Number) });
      expect(events.map((e) => e.output_index)).toEqual([undefined, 0, 0, 0, 1, undefined]);
      expect(events[2]).toMatchObject({ delta: 'hé', content_index: 0 });
      expect(events[5]!.response).toMatchObject({ model: 'engine-name', created_at: 5 });
      expect(out.split('\n\n').filter(Boolean).map((block) => block.split('\n')[0])).toEqual(stream.split('\n\n').filter(Boolean).map((block) => block.split('\n')[0]));
    }
  });

  test('what is not a JSON event passes as it came', () => {
    const fixer = new ResponsesEventFixer('tiny');
    expect(fixer.push(Buffer.from(': ping\n\ndata: [DONE]\n\nevent: x\ndata: {"unfinished'))).toBe(': ping\n\ndata: [DONE]\n\n');
    expect(fixer.end()).toBe('event: x\ndata: {"unfinished');
  });
});
