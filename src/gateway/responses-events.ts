/**
 * llama-server's Responses API stream leaves out fields that OpenAI's always has and that strict clients check: the
 * Vercel AI SDK refuses a `response.created` without `created_at` and `model`, and output items without
 * `output_index`. The gateway fills in what is missing (never changing what is there): `sequence_number` on every
 * event, `created_at`/`model` on the response, `output_index` (the item's position) and `content_index` on item and
 * part events. Events are fixed whole, as they complete; an event that grows past MAX_EVENT_CHARS, or one that is
 * not JSON, is passed on as it came.
 */
import { StringDecoder } from 'node:string_decoder';

const MAX_EVENT_CHARS = 4 * 2 ** 20;

type Event = Record<string, unknown> & { type?: unknown; response?: Record<string, unknown>; item?: { id?: unknown }; item_id?: unknown };

export class ResponsesEventFixer {
  readonly #model: string;
  readonly #createdAt = Math.floor(Date.now() / 1000);
  readonly #decoder = new StringDecoder('utf8');
  readonly #items = new Map<unknown, number>();
  #pending = '';
  #sequence = 0;

  constructor(model: string) {
    this.#model = model;
  }

  /** The complete events in what has arrived so far, fixed; an incomplete last event is held back. */
  push(chunk: Buffer): string {
    this.#pending += this.#decoder.write(chunk);
    const end = this.#pending.lastIndexOf('\n\n');
    if (end < 0) {
      if (this.#pending.length <= MAX_EVENT_CHARS) return '';
      const raw = this.#pending;
      this.#pending = '';
      return raw;
    }
    const complete = this.#pending.slice(0, end + 2);
    this.#pending = this.#pending.slice(end + 2);
    return complete.split('\n\n').map((event) => (event ? `${this.#fix(event)}\n\n` : '')).join('');
  }

  /** Whatever is still held (the stream ended mid-event). */
  end(): string {
    const rest = this.#pending + this.#decoder.end();
    this.#pending = '';
    return rest;
  }

  #fix(event: string): string {
    const at = event.startsWith('data: ') ? 0 : event.indexOf('\ndata: ') + 1;
    if (at === 0 && !event.startsWith('data: ')) return event;
    const head = event.slice(0, at);
    let data: Event;
    try {
      data = JSON.parse(event.slice(at + 6)) as Event;
    } catch {
      return event;
    }
    if (data === null || typeof data !== 'object') return event;
    data.sequence_number ??= this.#sequence;
    this.#sequence++;
    const type = typeof data.type === 'string' ? data.type : '';
    if (data.response && typeof data.response === 'object') {
      data.response.created_at ??= this.#createdAt;
      data.response.model ??= this.#model;
    }
    if (type === 'response.output_item.added' || type === 'response.output_item.done') {
      const id = data.item?.id;
      if (!this.#items.has(id)) this.#items.set(id, this.#items.size);
      data.output_index ??= this.#items.get(id);
    } else if (type.startsWith('response.content_part.') || type.startsWith('response.output_text.')) {
      data.output_index ??= this.#items.get(data.item_id) ?? 0;
      data.content_index ??= 0;
    }
    return `${head}data: ${JSON.stringify(data)}`;
  }
}
