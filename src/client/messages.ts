/**
 * Anthropic's Messages API as llama-server (and the gateway) serve it at `/v1/messages`: the request, the message,
 * the named stream events, and the accumulator that folds the events into the message a plain call returns.
 */
import type { Accumulator } from './stream.js';

export interface MessageParam {
  role: 'user' | 'assistant';
  content: string | ContentBlock[];
}

export type ContentBlock =
  | { type: 'text'; text: string }
  | { type: 'tool_use'; id: string; name: string; input: unknown }
  | { type: 'tool_result'; tool_use_id: string; content: string | { type: 'text'; text: string }[]; is_error?: boolean }
  | { type: 'thinking'; thinking: string; signature?: string };

export interface MessageTool {
  name: string;
  description?: string;
  input_schema: Record<string, unknown>;
}

export interface MessagesRequest {
  /** The model's name on a gateway (a single engine ignores it). */
  model?: string;
  messages: MessageParam[];
  max_tokens: number;
  system?: string | { type: 'text'; text: string }[];
  temperature?: number;
  top_p?: number;
  top_k?: number;
  stop_sequences?: string[];
  tools?: MessageTool[];
  tool_choice?: { type: 'auto' | 'any' | 'none' } | { type: 'tool'; name: string };
  stream?: boolean;
  metadata?: Record<string, unknown>;
}

export interface Message {
  id: string;
  type: 'message';
  role: 'assistant';
  content: ContentBlock[];
  model: string;
  stop_reason: 'end_turn' | 'max_tokens' | 'stop_sequence' | 'tool_use' | null;
  stop_sequence: string | null;
  usage: { input_tokens: number; output_tokens: number; cache_read_input_tokens?: number };
}

export type MessageStreamEvent =
  | { type: 'message_start'; message: Message }
  | { type: 'content_block_start'; index: number; content_block: ContentBlock }
  | { type: 'content_block_delta'; index: number; delta: ContentDelta }
  | { type: 'content_block_stop'; index: number }
  | { type: 'message_delta'; delta: { stop_reason: Message['stop_reason']; stop_sequence: string | null }; usage: { output_tokens: number } }
  | { type: 'message_stop' }
  | { type: 'ping' };

export type ContentDelta =
  | { type: 'text_delta'; text: string }
  | { type: 'input_json_delta'; partial_json: string }
  | { type: 'thinking_delta'; thinking: string }
  | { type: 'signature_delta'; signature: string };

export interface CountTokensResponse {
  input_tokens: number;
}

/** The message a stream's events add up to (tool inputs parsed from their JSON deltas at the block's end). */
export function messageAccumulator(): Accumulator<MessageStreamEvent, Message> {
  let message: Message | undefined;
  const partialJson = new Map<number, string>();
  return {
    add(event) {
      if (event.type === 'message_start') message = { ...event.message, content: [...event.message.content] };
      if (!message) return;
      if (event.type === 'content_block_start') message.content[event.index] = { ...event.content_block };
      else if (event.type === 'content_block_delta') {
        const block = message.content[event.index];
        const delta = event.delta;
        if (block?.type === 'text' && delta.type === 'text_delta') block.text += delta.text;
        else if (block?.type === 'thinking' && delta.type === 'thinking_delta') block.thinking += delta.thinking;
        else if (delta.type === 'input_json_delta') partialJson.set(event.index, (partialJson.get(event.index) ?? '') + delta.partial_json);
      } else if (event.type === 'content_block_stop') {
        const block = message.content[event.index];
        const json = partialJson.get(event.index);
        if (block?.type === 'tool_use' && json !== undefined) block.input = parseOr(json, block.input);
      } else if (event.type === 'message_delta') {
        message.stop_reason = event.delta.stop_reason;
        message.stop_sequence = event.delta.stop_sequence;
        message.usage = { ...message.usage, output_tokens: event.usage.output_tokens };
      }
    },
    result() {
      return message ?? { id: '', type: 'message', role: 'assistant', content: [], model: '', stop_reason: null, stop_sequence: null, usage: { input_tokens: 0, output_tokens: 0 } };
    },
  };
}

/** The text of a message's text blocks, joined. */
export function messageText(message: Pick<Message, 'content'>): string {
  return message.content.map((block) => (block.type === 'text' ? block.text : '')).join('');
}

function parseOr(json: string, fallback: unknown): unknown {
  try {
    return JSON.parse(json) as unknown;
  } catch {
    return fallback;
  }
}
