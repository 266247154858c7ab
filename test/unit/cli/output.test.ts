import { describe, expect, it } from 'vitest';
import { clause, onInterrupt, sentences, withInterrupt } from '../../../src/cli/output.js';

describe('sentences / clause', () => {
  it.each([
    [['Asking the hub failed after 7 tries: connect ECONNREFUSED 127.0.0.1:1', 'Check your connection.'], 'Asking the hub failed after 7 tries: connect ECONNREFUSED 127.0.0.1:1. Check your connection.'],
    [['Cannot write to /x (EROFS).', 'Choose a writable folder'], 'Cannot write to /x (EROFS). Choose a writable folder.'],
    [['Done!', undefined], 'Done!'],
    [['No such files: a, b', ''], 'No such files: a, b.'],
  ])('joins %j with one stop each', (parts, line) => {
    expect(sentences(...parts)).toBe(line);
  });

  it('drops the closing stop so a clause can go on', () => {
    expect(`${clause('No data for 30 s from the download server.')}; retrying`).toBe('No data for 30 s from the download server; retrying');
  });
});

describe('interrupts', () => {
  it('withInterrupt aborts on the first SIGINT and then leaves the next one to Node', async () => {
    const before = { int: process.listenerCount('SIGINT'), term: process.listenerCount('SIGTERM') };
    const reason = await withInterrupt(async (signal) => {
      expect(process.listenerCount('SIGINT')).toBe(before.int + 1);
      process.emit('SIGINT', 'SIGINT');
      expect(signal.aborted).toBe(true);
      expect([process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')]).toEqual([before.int, before.term]);
      return signal.reason as Error;
    });
    expect(reason.message).toBe('received SIGINT');
  });

  it('onInterrupt calls its handler on every signal until disposed', () => {
    const before = process.listenerCount('SIGINT');
    const seen: string[] = [];
    {
      using _listening = onInterrupt((name) => seen.push(name), ['SIGINT']);
      process.emit('SIGINT', 'SIGINT');
      process.emit('SIGINT', 'SIGINT');
    }
    expect(seen).toEqual(['SIGINT', 'SIGINT']);
    expect(process.listenerCount('SIGINT')).toBe(before);
  });
});
