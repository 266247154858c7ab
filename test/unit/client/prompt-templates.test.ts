import { describe, expect, it } from 'vitest';
import { renderPrompt, resolveTemplate, templates } from '../../../src/client/prompt-templates.js';
import { UsageError } from '../../../src/errors.js';

describe('prompt templates', () => {
  it('renders Llama 3.1 with and without a system prompt (BOS left to the server)', () => {
    expect(renderPrompt(templates.llama3, { prompt: 'Hi', system_prompt: 'Be brief.' })).toBe(
      '<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n',
    );
    expect(renderPrompt(templates.llama3, { prompt: 'Hi' }, { stripBos: false })).toBe(
      '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n',
    );
  });

  it('renders Llama 2 with its <<SYS>> block only when there is a system prompt', () => {
    expect(renderPrompt(templates.llama2, { prompt: 'Hi', system_prompt: 'Be brief.' }, { stripBos: false })).toBe(
      '<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST]',
    );
    expect(renderPrompt(templates.llama2, { prompt: 'Hi' })).toBe('[INST] Hi [/INST]');
  });

  it('renders ChatML', () => {
    expect(renderPrompt(templates.chatml, { prompt: 'Hi', system_prompt: 'S' })).toBe(
      '<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n',
    );
  });

  it('resolves names and aliases', () => {
    expect(resolveTemplate('Llama3.1')).toBe(templates.llama3);
    expect(resolveTemplate('llama-2')).toBe(templates.llama2);
    expect(resolveTemplate('chatml')).toBe(templates.chatml);
  });

  it('accepts a custom template with {prompt} and fills it in one pass', () => {
    const template = resolveTemplate('### System: {system_prompt}\n### User: {prompt}\n### Assistant:');
    expect(renderPrompt(template, { prompt: 'say {system_prompt}', system_prompt: 'S {prompt}' })).toBe(
      '### System: S {prompt}\n### User: say {system_prompt}\n### Assistant:',
    );
  });

  it('rejects a custom template without {prompt}', () => {
    expect(() => resolveTemplate('User: {input}')).toThrow(UsageError);
    expect(() => resolveTemplate('User: {input}')).toThrow(/no \{prompt\} placeholder/);
  });
});
