/**
 * The client against recorded server behaviours the real engine we build does not show: llamafile 0.8.x (no
 * [DONE], plain-text errors, no /v1/completions, `error:` lines) and upstream's loading / not-supported answers.
 * Streams are cut into 3-byte pieces on the wire, so frames and UTF-8 sequences arrive split.
 */
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LlamafileClient } from '../../src/client/client.js';
import { predict } from '../../src/client/predict.js';
import {
  AbortError,
  APIError,
  AuthenticationError,
  ConnectionError,
  RequestTimeoutError,
  ServerUnavailableError,
} from '../../src/errors.js';
import { loadTranscript, startReplayServer, type ReplayServer } from '../helpers/replay-server.js';

const TEXT = 'Héllo 🦙 wörld';

describe('llamafile 0.8.x (replayed)', () => {
  let server: ReplayServer;
  let client: LlamafileClient;

  beforeAll(async () => {
    server = await startReplayServer(await loadTranscript('llamafile-0.8.13'), { splitEvery: 3 });
    client = new LlamafileClient({ baseUrl: server.url, apiKey: 'sk-test' });
  });
  afterAll(async () => {
    await client.close();
    await server.close();
  });

  it('health() reports ok', async () => {
    expect(await client.health()).toEqual({ ok: true, status: 200, body: { status: 'ok', slots_idle: 1, slots_processing: 0 } });
  });

  it('streams chat chunk by chunk and ends cleanly without [DONE]', async () => {
    const stream = client.chat({ messages: [{ role: 'user', content: 'hi' }], stream: true, seed: 1 });
    const pieces: string[] = [];
    for await (const chunk of stream) pieces.push(chunk.choices[0]?.delta.content ?? '');
    expect(pieces).toEqual(['', 'Hél', 'lo', ' 🦙', ' wörld', '']);
    const final = await stream.finalResponse();
    expect(final.choices[0]?.message.content).toBe(TEXT);
    expect(final.choices[0]?.finish_reason).toBe('stop');
  });

  it('turns an `error:` line mid-stream into a thrown APIError carrying the server message', async () => {
    const pieces: string[] = [];
    const read = async () => {
      for await (const chunk of client.chat({ messages: [{ role: 'user', content: 'hi' }], stream: true, seed: 2 })) {
        pieces.push(chunk.choices[0]?.delta.content ?? '');
      }
    };
    const error = await read().then(() => undefined, (caught: unknown) => caught);
    expect(error).toBeInstanceOf(APIError);
    expect((error as APIError).serverMessage).toBe('slot unavailable');
    expect(pieces).toEqual(['', 'Hél']);
  });

  it('returns a whole chat completion with usage', async () => {
    const completion = await client.chat({ messages: [{ role: 'user', content: 'hi' }] });
    expect(completion.choices[0]?.message.content).toBe(TEXT);
    expect(completion.usage).toEqual({ completion_tokens: 4, prompt_tokens: 12, total_tokens: 16 });
  });

  it('maps the plain-text 401 to AuthenticationError with the server message', async () => {
    const anonymous = new LlamafileClient({ baseUrl: server.url });
    try {
      const error = await anonymous.chat({ messages: [{ role: 'user', content: 'hi' }] }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(AuthenticationError);
      expect((error as AuthenticationError).status).toBe(401);
      expect((error as AuthenticationError).serverMessage).toBe('Unauthorized: Invalid API Key');
      expect((error as AuthenticationError).hint).toMatch(/API key/);
      expect(server.requests.at(-1)?.authorization).toBeUndefined();
    } finally {
      await anonymous.close();
    }
  });

  it('maps the plain-text 500 to APIError with the server message', async () => {
    const error = await client.completion({ prompt: 'boom' }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(APIError);
    expect((error as APIError).status).toBe(500);
    expect((error as APIError).serverMessage).toBe(
      '500 Internal Server Error [json.exception.type_error.302] type must be number, but is string',
    );
  });

  it('streams the native /completion and aggregates its last frame (0.8.x stop booleans, timings)', async () => {
    const stream = client.completion({ prompt: 'Once upon', n_predict: 4, stream: true });
    const pieces: string[] = [];
    for await (const frame of stream) pieces.push(frame.content);
    expect(pieces.join('')).toBe(TEXT);
    const final = await stream.finalResponse();
    expect(final).toMatchObject({ content: TEXT, stop: true, stopped_limit: true, tokens_predicted: 4, slot_id: 0 });
    expect(final.timings?.predicted_n).toBe(4);
  });

  it('falls back from the missing /v1/completions to /completion, once, and answers in the OpenAI shape', async () => {
    const before = server.requests.length;
    const first = await client.completions({ prompt: 'Once upon', max_tokens: 4 });
    expect(first).toMatchObject({
      object: 'text_completion',
      choices: [{ index: 0, text: TEXT, finish_reason: 'length' }],
      usage: { prompt_tokens: 5, completion_tokens: 4, total_tokens: 9 },
    });
    const streamed = client.completions({ prompt: 'Once upon', max_tokens: 4, stream: true });
    const pieces: string[] = [];
    for await (const chunk of streamed) pieces.push(chunk.choices[0]?.text ?? '');
    expect(pieces.join('')).toBe(TEXT);
    expect((await streamed.finalResponse()).choices[0]?.finish_reason).toBe('length');
    const paths = server.requests.slice(before).map((request) => request.path);
    expect(paths).toEqual(['/v1/completions', '/completion', '/completion']);
    expect(server.requests.at(-1)?.body).toMatchObject({ prompt: 'Once upon', n_predict: 4, stream: true });
  });

  it('aborts a stream mid-way with the caller signal: AbortError, and the connection is closed', async () => {
    const controller = new AbortController();
    const abortedBefore = server.aborted;
    const read = async () => {
      for await (const frame of client.completion({ prompt: 'hang', stream: true }, { signal: controller.signal })) {
        expect(frame.content).toBe('Hél');
        controller.abort();
      }
    };
    await expect(read()).rejects.toBeInstanceOf(AbortError);
    await expect.poll(() => server.aborted).toBe(abortedBefore + 1);
    expect((await client.health()).ok).toBe(true);
  });

  it('closes the connection when the loop is left with break', async () => {
    const abortedBefore = server.aborted;
    for await (const _ of client.completion({ prompt: 'hang', stream: true })) break;
    await expect.poll(() => server.aborted).toBe(abortedBefore + 1);
  });

  it('raises RequestTimeoutError when a stream stalls longer than timeoutMs', async () => {
    const impatient = new LlamafileClient({ baseUrl: server.url, apiKey: 'sk-test', timeoutMs: 300 });
    try {
      const read = async () => {
        for await (const _ of impatient.completion({ prompt: 'hang', stream: true })) {
          // the first frame comes; then nothing
        }
      };
      await expect(read()).rejects.toBeInstanceOf(RequestTimeoutError);
    } finally {
      await impatient.close();
    }
  });

  it('parses /metrics and runs tokenize / detokenize', async () => {
    expect(await client.metrics()).toMatchObject({ 'llamacpp:prompt_tokens_total': 46, 'llamacpp:tokens_predicted_total': 128 });
    expect(await client.tokenize('Once upon')).toEqual({ tokens: [9038, 2501] });
    expect(await client.detokenize([9038, 2501])).toEqual({ content: ' Once upon' });
  });

  it('predict() takes its metrics from the server timings', async () => {
    const tokens: string[] = [];
    const prediction = await predict(client, { prompt: 'Once upon', max_tokens: 4 }, { onToken: (text) => tokens.push(text) });
    expect(prediction.output).toBe(TEXT);
    expect(tokens).toEqual(['Hél', 'lo', ' 🦙', ' wörld']);
    expect(prediction.stop_reason).toBe('length');
    expect(prediction.metrics).toMatchObject({
      source: 'server',
      input_token_count: 5,
      output_token_count: 4,
      predict_time: (12.5 + 41.2) / 1000,
    });
    // Time to first token is what the client waited (Replicate's meaning), not the server's prompt time.
    expect(prediction.metrics.time_to_first_token).toBeGreaterThan(0);
    expect(prediction.metrics.time_to_first_token).toBeLessThanOrEqual(prediction.metrics.total_time);
    expect(prediction.metrics.tokens_per_second).toBeCloseTo((4 / 41.2) * 1000, 6);
  });
});

describe('upstream server (replayed)', () => {
  let server: ReplayServer;
  let client: LlamafileClient;

  beforeAll(async () => {
    server = await startReplayServer(await loadTranscript('upstream-loading'), { splitEvery: 7 });
    client = new LlamafileClient({ baseUrl: server.url });
  });
  afterAll(async () => {
    await client.close();
    await server.close();
  });

  it('health() resolves with ok=false while the model loads; other calls throw ServerUnavailableError', async () => {
    const health = await client.health();
    expect(health).toMatchObject({ ok: false, status: 503 });
    const error = await client.props().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ServerUnavailableError);
    expect((error as ServerUnavailableError).serverMessage).toBe('Loading model');
  });

  it('reports what a 501 says to do', async () => {
    const error = await client.embeddings({ input: 'x' }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(APIError);
    expect((error as APIError).status).toBe(501);
    expect((error as APIError).message).toMatch(/--embeddings/);
  });

  it('stops at [DONE] and keeps the usage chunk and timings in the final response', async () => {
    const stream = client.chat({ messages: [{ role: 'user', content: 'hi' }], stream: true, stream_options: { include_usage: true } });
    const final = await stream.finalResponse();
    expect(final.choices[0]?.message.content).toBe(TEXT);
    expect(final.choices[0]?.finish_reason).toBe('length');
    expect(final.usage?.total_tokens).toBe(16);
    expect(final.timings?.predicted_n).toBe(4);
  });

  it('turns a streamed JSON error envelope into a typed error with its code', async () => {
    const read = async () => {
      for await (const _ of client.chat({ messages: [{ role: 'user', content: 'hi' }], stream: true, seed: 3 })) {
        // one chunk, then the error
      }
    };
    const error = await read().then(() => undefined, (caught: unknown) => caught);
    expect(error).toBeInstanceOf(APIError);
    expect((error as APIError).status).toBe(500);
    expect((error as APIError).serverMessage).toBe('Context size has been exceeded.');
  });
});

describe('no server', () => {
  it('throws ConnectionError when nothing listens (connection refused)', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const address = probe.address();
        probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
      });
    });
    const client = new LlamafileClient({ baseUrl: `http://127.0.0.1:${port}` });
    try {
      const error = await client.health().catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(ConnectionError);
      expect((error as ConnectionError).message).toMatch(/connection refused/);
      await expect(client.chat({ messages: [{ role: 'user', content: 'x' }] })).rejects.toBeInstanceOf(ConnectionError);
    } finally {
      await client.close();
    }
  });
});
