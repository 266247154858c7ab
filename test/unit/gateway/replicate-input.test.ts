import { describe, expect, test } from 'vitest';
import { InputError, mapReplicateInput } from '../../../src/gateway/replicate-input.js';

describe('mapReplicateInput', () => {
  test('seed 000 inputs map to predict() inputs', () => {
    const { input } = mapReplicateInput({
      top_p: 0.9, prompt: 'Tina has one brother', max_tokens: 1024, min_tokens: 0, temperature: 0.6,
      system_prompt: 'You are a helpful assistant.', presence_penalty: 0, frequency_penalty: 0,
    });
    expect(input).toEqual({ prompt: 'Tina has one brother', system_prompt: 'You are a helpful assistant.', max_tokens: 1024, temperature: 0.6, top_p: 0.9, presence_penalty: 0, frequency_penalty: 0 });
  });

  test('old names, -1, comma-separated stop sequences', () => {
    const { input, notes } = mapReplicateInput({ prompt: 'x', max_new_tokens: 8, min_new_tokens: -1, stop_sequences: '<end>,<stop>', top_k: -1, length_penalty: 1.2 });
    expect(input).toEqual({ prompt: 'x', max_tokens: 8, stop: ['<end>', '<stop>'], top_k: 0 });
    expect(notes[0]).toMatch(/length_penalty/);
  });

  test.each([
    [{ prompt: 'x', foo: 1 }, 'foo'],
    [{ prompt: 'x', max_tokens: 'many' }, 'max_tokens'],
    [{ prompt: 'x', temperature: '0.5' }, 'temperature'],
    [{ prompt: 1 }, 'prompt'],
    [{}, 'prompt'],
    [{ prompt: 'x', max_tokens: 5, max_new_tokens: 5 }, 'max_new_tokens'],
    [{ prompt: 'x', top_p: 3 }, 'top_p'],
  ])('%j is a 422 naming %s', (input, field) => {
    const error = (() => {
      try {
        mapReplicateInput(input);
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).status).toBe(422);
    expect((error as InputError).field).toBe(field);
  });
});
