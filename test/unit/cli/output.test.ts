import { describe, expect, it } from 'vitest';
import { clause, sentences } from '../../../src/cli/output.js';

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
