/**
 * A conversation with history over `/v1/chat/completions`: what `llamactl chat` drives. A turn that fails or is
 * cancelled leaves the history as it was, so the next question does not carry half an answer.
 */
import type { LlamafileClient } from './client.js';
import type { ChatCompletion, ChatMessage, ChatRequest } from './types.js';

export type ChatParams = Omit<ChatRequest, 'messages' | 'stream'>;

export interface SendOptions {
  signal?: AbortSignal | undefined;
  /** Each piece of the answer as it arrives. */
  onToken?: ((text: string) => void) | undefined;
}

export class ChatSession {
  readonly #client: LlamafileClient;
  readonly #params: ChatParams;
  #system: string | undefined;
  #history: ChatMessage[] = [];

  constructor(client: LlamafileClient, options: { system?: string | undefined; params?: ChatParams } = {}) {
    this.#client = client;
    this.#system = options.system;
    this.#params = options.params ?? {};
  }

  /** The messages the next turn will send before the new question (system prompt first). */
  get messages(): ChatMessage[] {
    return [...(this.#system ? [{ role: 'system' as const, content: this.#system }] : []), ...this.#history];
  }

  get system(): string | undefined {
    return this.#system;
  }

  /** Sets (or, with undefined or '', clears) the system prompt; the history stays. */
  setSystem(text: string | undefined): void {
    this.#system = text === '' ? undefined : text;
  }

  /** Forgets the conversation; the system prompt stays. */
  reset(): void {
    this.#history = [];
  }

  /** Asks one question, streaming the answer; resolves with the whole completion once it is in the history. */
  async send(text: string, options: SendOptions = {}): Promise<ChatCompletion> {
    const question: ChatMessage = { role: 'user', content: text };
    const stream = this.#client.chat(
      { ...this.#params, messages: [...this.messages, question], stream: true },
      { signal: options.signal },
    );
    for await (const chunk of stream) {
      const piece = chunk.choices[0]?.delta.content;
      if (piece) options.onToken?.(piece);
    }
    const completion = await stream.finalResponse();
    const answer = completion.choices[0]?.message;
    this.#history.push(question, { role: 'assistant', content: answer?.content ?? '', ...(answer?.tool_calls ? { tool_calls: answer.tool_calls } : {}) });
    return completion;
  }
}
