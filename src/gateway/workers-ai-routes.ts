/**
 * Cloudflare Workers AI's `ai.run` (seed 004): `POST /client/v4/accounts/{account_id}/ai/run/{model}` with `prompt`
 * or `messages`, answered in Cloudflare's envelope `{ result: { response, usage, tool_calls }, success, errors,
 * messages }`, or with `stream: true` as SSE `data: {"response":"…"}` lines and `data: [DONE]`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { APIError } from '../errors.js';
import type { ChatCompletion, ChatMessage, ChatRequest, CompletionRequest, ResponseFormat } from '../client/types.js';
import { lookupModel, type GatewayContext } from './context.js';
import { GatewayError, toGatewayError } from './gateway-error.js';
import type { FinishedRequest } from './metrics.js';
import { clientGone, errorHeaders, parseJsonObject, readBody, sendJson, write } from './http-io.js';

type Kind = 'string' | 'number' | 'integer' | 'boolean' | 'object' | 'array';
const INPUTS: Record<string, Kind> = {
  prompt: 'string', messages: 'array', raw: 'boolean', stream: 'boolean', max_tokens: 'integer', temperature: 'number',
  top_p: 'number', top_k: 'integer', seed: 'integer', repetition_penalty: 'number', frequency_penalty: 'number',
  presence_penalty: 'number', response_format: 'object', tools: 'array', lora: 'string',
};

export async function runWorkersAi(req: IncomingMessage, res: ServerResponse, ctx: GatewayContext, modelName: string): Promise<void> {
  const started = performance.now();
  const done: FinishedRequest = { model: '-', api: 'workers-ai', route: '/ai/run', status: 500, ms: 0 };
  const gone = clientGone(req, res);
  try {
    const body = parseJsonObject(await readBody(req, ctx.maxBodyBytes));
    const model = lookupModel(ctx, modelName);
    done.model = model.name;
    validate(body);
    const lease = await ctx.scheduler.acquire(model, gone);
    let ok = false;
    try {
      const client = lease.server.client;
      const sampling = {
        temperature: (body.temperature as number | undefined) ?? 0.6,
        ...pick(body, ['top_p', 'top_k', 'seed', 'frequency_penalty', 'presence_penalty']),
        ...(body.repetition_penalty === undefined ? {} : { repeat_penalty: body.repetition_penalty as number }),
      };
      const maxTokens = (body.max_tokens as number | undefined) ?? 256;
      const raw = body.raw === true && typeof body.prompt === 'string';
      const messages: ChatMessage[] = Array.isArray(body.messages)
        ? (body.messages as ChatMessage[])
        : [{ role: 'user', content: body.prompt as string }];
      const chat: ChatRequest = {
        messages, max_tokens: maxTokens, ...sampling, ...pick(body, ['tools']),
        ...(body.response_format === undefined ? {} : { response_format: openAiFormat(body.response_format) }),
      };
      const native: CompletionRequest = { prompt: body.prompt as string, n_predict: maxTokens, ...sampling };
      if (body.stream === true) {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
        res.flushHeaders();
        done.status = 200;
        try {
          const stream = raw
            ? client.completion({ ...native, stream: true }, { signal: gone })
            : client.chat({ ...chat, stream: true, stream_options: { include_usage: true } }, { signal: gone });
          let first = true;
          for await (const chunk of stream as AsyncIterable<{ choices?: { delta: { content?: string | null } }[]; content?: string }>) {
            const text = chunk.choices ? (chunk.choices[0]?.delta.content ?? '') : (chunk.content ?? '');
            if (!text) continue;
            if (first) done.firstByteMs = performance.now() - started;
            first = false;
            await write(res, `data: ${JSON.stringify({ response: text })}\n\n`);
          }
          const final = await stream.finalResponse();
          const usage = usageOf(final);
          done.promptTokens = usage.prompt_tokens;
          done.completionTokens = usage.completion_tokens;
          res.end(`data: ${JSON.stringify({ response: '', usage })}\n\ndata: [DONE]\n\n`);
          ok = true;
        } catch (error) {
          if (gone.aborted) return;
          const failure = (await lease.crashError()) ?? toGatewayError(error);
          done.status = failure.status;
          res.end(`data: ${JSON.stringify({ error: failure.message })}\n\n`);
        }
        return;
      }
      let answer: ChatCompletion | { content: string; tokens_evaluated?: number; tokens_predicted?: number };
      try {
        answer = raw ? await client.completion({ ...native, stream: false }, { signal: gone }) : await chatAllowingBadJson((request, options) => client.chat({ ...request, stream: false }, options), chat, gone);
      } catch (error) {
        throw (await lease.crashError()) ?? error;
      }
      const usage = usageOf(answer);
      done.promptTokens = usage.prompt_tokens;
      done.completionTokens = usage.completion_tokens;
      done.firstByteMs = performance.now() - started;
      done.status = 200;
      ok = true;
      sendJson(res, 200, { result: resultOf(answer, usage, body.response_format !== undefined), success: true, errors: [], messages: [] });
    } finally {
      lease.release(ok);
    }
  } catch (error) {
    const failure = toGatewayError(error);
    done.status = failure.status;
    if (!res.headersSent && !gone.aborted) sendWorkersAiError(res, failure);
  } finally {
    done.ms = performance.now() - started;
    ctx.metrics.finished(done);
  }
}

export function sendWorkersAiError(res: ServerResponse, error: GatewayError): void {
  sendJson(res, error.status, { result: null, success: false, errors: [{ code: error.status, message: error.message }], messages: [] }, errorHeaders(error));
}

function validate(body: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(body)) {
    const kind = INPUTS[key];
    if (!kind) throw new GatewayError(400, 'invalid_input', `Unknown input ${JSON.stringify(key)} (known: ${Object.keys(INPUTS).join(', ')}).`);
    const type = Array.isArray(value) ? 'array' : value === null ? 'null' : typeof value;
    const ok = kind === 'integer' ? Number.isSafeInteger(value) : kind === type;
    if (!ok) throw new GatewayError(400, 'invalid_input', `${key} must be ${kind === 'integer' ? 'an integer' : `a ${kind}`}, got ${type}.`);
  }
  if (body.lora !== undefined) throw new GatewayError(400, 'not_supported', 'lora is not supported by this gateway: serve the merged model, or pass the adapter to the engine with args: ["--lora", FILE] in the config.');
  if (typeof body.prompt !== 'string' && !Array.isArray(body.messages)) throw new GatewayError(400, 'invalid_input', 'Give either prompt (a string) or messages (an array).');
  if (typeof body.prompt === 'string' && body.prompt.length === 0) throw new GatewayError(400, 'invalid_input', 'prompt must not be empty.');
  const format = body.response_format as { type?: unknown } | undefined;
  if (format && format.type !== 'json_object' && format.type !== 'json_schema') throw new GatewayError(400, 'invalid_input', 'response_format.type must be json_object or json_schema.');
  const max = body.max_tokens as number | undefined;
  if (max !== undefined && max < 1) throw new GatewayError(400, 'invalid_input', 'max_tokens must be at least 1.');
}

/** The client checks JSON answers; Workers AI hands back what the model said, parsed when it parses. */
async function chatAllowingBadJson(chat: (request: ChatRequest, options: { signal: AbortSignal }) => Promise<ChatCompletion>, request: ChatRequest, signal: AbortSignal): Promise<ChatCompletion> {
  try {
    return await chat(request, { signal });
  } catch (error) {
    if (error instanceof APIError && error.status === undefined && (error.body as ChatCompletion | undefined)?.object === 'chat.completion') return error.body as ChatCompletion;
    throw error;
  }
}

/** Workers AI puts the schema itself in `json_schema`; OpenAI (and llama-server) wrap it: `json_schema.schema`. */
function openAiFormat(format: unknown): ResponseFormat {
  const { type, json_schema: schema } = format as { type: string; json_schema?: Record<string, unknown> };
  if (type !== 'json_schema') return { type: 'json_object' };
  const wrapped = schema && typeof schema === 'object' && 'schema' in schema ? schema : { name: 'response', schema: schema ?? {} };
  return { type: 'json_schema', json_schema: wrapped } as ResponseFormat;
}

function usageOf(answer: unknown): { prompt_tokens: number; completion_tokens: number; total_tokens: number } {
  const value = answer as { usage?: { prompt_tokens?: number; completion_tokens?: number }; tokens_evaluated?: number; tokens_predicted?: number };
  const prompt = value.usage?.prompt_tokens ?? value.tokens_evaluated ?? 0;
  const completion = value.usage?.completion_tokens ?? value.tokens_predicted ?? 0;
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

function resultOf(answer: unknown, usage: object, json: boolean): Record<string, unknown> {
  if (!('choices' in (answer as object))) return { response: (answer as { content: string }).content, usage };
  const message = (answer as ChatCompletion).choices[0]?.message;
  const text = message?.content ?? '';
  let response: unknown = text;
  if (json) {
    try {
      response = JSON.parse(text) as unknown;
    } catch {
      // not valid JSON (cut off at max_tokens): the text as it came
    }
  }
  const toolCalls = message?.tool_calls?.map((call) => ({ name: call.function.name, arguments: parseArguments(call.function.arguments) }));
  return { response, usage, ...(toolCalls?.length ? { tool_calls: toolCalls } : {}) };
}

function parseArguments(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function pick(body: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  const picked: Record<string, unknown> = {};
  for (const key of keys) if (body[key] !== undefined) picked[key] = body[key];
  return picked;
}
