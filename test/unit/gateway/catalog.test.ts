import { describe, expect, test } from 'vitest';
import { UsageError } from '../../../src/errors.js';
import { Catalog } from '../../../src/gateway/catalog.js';

const catalog = new Catalog([
  { name: 'llama-8b', model: 'a', aliases: ['meta/meta-llama-3.1-8b-instruct', '@cf/meta/llama-3.1-8b-instruct'] },
  { name: 'qwen-7b', model: 'b' },
  { name: 'tiny', model: 'c' },
]);

describe('Catalog', () => {
  test('names and aliases, exact then case-insensitive', () => {
    expect(catalog.find('llama-8b')?.model).toBe('a');
    expect(catalog.find('@cf/meta/llama-3.1-8b-instruct')?.model).toBe('a');
    expect(catalog.find('QWEN-7B')?.model).toBe('b');
    expect(catalog.find('gpt-4')).toBeUndefined();
  });

  test('closest names for a miss', () => {
    expect(catalog.closest('llama-7b')[0]).toBe('llama-8b');
    expect(catalog.closest('@cf/meta/llama-3.1-70b-instruct')[0]).toBe('@cf/meta/llama-3.1-8b-instruct');
    expect(catalog.closest('tiny-x')[0]).toBe('tiny');
  });

  test('a name given to two models is refused', () => {
    expect(() => new Catalog([{ name: 'a', model: 'x' }, { name: 'b', model: 'y', aliases: ['a'] }])).toThrow(UsageError);
  });
});
