/**
 * Prompt templates in the Replicate style: a string with `{prompt}` (required) and `{system_prompt}` (optional)
 * placeholders. Built-ins for Llama 3.1, Llama 2 and ChatML.
 */
import { UsageError } from '../errors.js';

export interface PromptTemplate {
  name: string;
  /** The text with `{system_prompt}` and `{prompt}` placeholders. */
  template: string;
  /** The same, for when there is no system prompt (Llama 2 drops its <<SYS>> block). */
  withoutSystem?: string;
  /** Stop sequences that end the assistant's turn in this format. */
  stop: string[];
  /** The beginning-of-sequence text the template opens with; the server adds BOS itself, so it is sent without. */
  bos?: string;
}

export const templates = {
  llama3: {
    name: 'llama3',
    template:
      '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n{system_prompt}<|eot_id|>' +
      '<|start_header_id|>user<|end_header_id|>\n\n{prompt}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n',
    withoutSystem:
      '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n{prompt}<|eot_id|>' +
      '<|start_header_id|>assistant<|end_header_id|>\n\n',
    stop: ['<|eot_id|>'],
    bos: '<|begin_of_text|>',
  },
  llama2: {
    name: 'llama2',
    template: '<s>[INST] <<SYS>>\n{system_prompt}\n<</SYS>>\n\n{prompt} [/INST]',
    withoutSystem: '<s>[INST] {prompt} [/INST]',
    stop: ['</s>'],
    bos: '<s>',
  },
  chatml: {
    name: 'chatml',
    template: '<|im_start|>system\n{system_prompt}<|im_end|>\n<|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n',
    withoutSystem: '<|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n',
    stop: ['<|im_end|>'],
  },
} as const satisfies Record<string, PromptTemplate>;

export type TemplateName = keyof typeof templates;

const ALIASES: Record<string, TemplateName> = {
  llama3: 'llama3',
  'llama3.1': 'llama3',
  'llama-3': 'llama3',
  'llama-3.1': 'llama3',
  llama2: 'llama2',
  'llama-2': 'llama2',
  chatml: 'chatml',
};

/** A built-in template by name (`llama3`, `llama3.1`, `llama2`, `chatml`), or a custom one, which must hold `{prompt}`. */
export function resolveTemplate(nameOrTemplate: string): PromptTemplate {
  const builtin = ALIASES[nameOrTemplate.toLowerCase()];
  if (builtin) return templates[builtin];
  if (!nameOrTemplate.includes('{prompt}')) {
    throw new UsageError(`The prompt template ${JSON.stringify(nameOrTemplate.slice(0, 80))} has no {prompt} placeholder.`, {
      hint: `Use one of ${Object.keys(ALIASES).join(', ')}, or a template containing {prompt} (and optionally {system_prompt}).`,
    });
  }
  return { name: 'custom', template: nameOrTemplate, stop: [] };
}

/**
 * Fills a template in one pass, so a `{prompt}` typed by the user inside the system prompt is not expanded.
 * With `stripBos`, the template's leading BOS text is left out (the server adds BOS when it tokenizes).
 */
export function renderPrompt(
  template: PromptTemplate,
  values: { prompt: string; system_prompt?: string | undefined },
  { stripBos = true }: { stripBos?: boolean } = {},
): string {
  const system = values.system_prompt ?? '';
  let text = system === '' && template.withoutSystem ? template.withoutSystem : template.template;
  if (stripBos && template.bos && text.startsWith(template.bos)) text = text.slice(template.bos.length);
  return text.replace(/\{(system_prompt|prompt)\}/g, (_, key: string) => (key === 'prompt' ? values.prompt : system));
}
