/**
 * Maps what went wrong on the wire to the typed client errors of src/errors.ts (the openai-node shape: one factory
 * for HTTP statuses, distinct classes for "no response at all", timeouts and aborts).
 */
import {
  AbortError,
  APIError,
  AuthenticationError,
  ConnectionError,
  LlamactlError,
  RequestTimeoutError,
  ServerUnavailableError,
} from '../errors.js';
import { networkErrorKind } from '../http/network-errors.js';
import { clipText } from '../text/quote.js';

/** Parses a body as JSON when it is JSON, else keeps the text (old llamafile servers answer errors in plain text). */
export function parseBody(text: string): unknown {
  const trimmed = text.trim();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      return JSON.parse(trimmed) as unknown;
    } catch {
      // not JSON after all
    }
  }
  return text;
}

/**
 * The server's own message from whichever shape it used: `{"error":{"message":…}}` (upstream, OpenAI envelope),
 * `{"error":"…"}`, `{"message":…}`, `{"content":…}` or plain text ("Unauthorized: Invalid API Key").
 */
export function serverMessage(body: unknown): string {
  // The server's words reach a terminal: clipped, with control and bidi characters escaped.
  return clipText(rawServerMessage(body), 500);
}

function rawServerMessage(body: unknown): string {
  if (typeof body === 'string') return body.trim().split('\n').filter(Boolean).join(' ').slice(0, 500) || '(empty)';
  if (body !== null && typeof body === 'object') {
    const record = body as Record<string, unknown>;
    const error = record.error;
    if (typeof error === 'string') return error;
    if (error !== null && typeof error === 'object') {
      const message = (error as Record<string, unknown>).message;
      if (typeof message === 'string') return message;
    }
    for (const key of ['message', 'content', 'status'] as const) {
      if (typeof record[key] === 'string') return record[key];
    }
    return JSON.stringify(body).slice(0, 500);
  }
  return String(body);
}

/** The error for an HTTP status ≥ 400 (or an error inside a stream, where `status` may be unknown). */
export function apiError(status: number | undefined, body: unknown, url: string): APIError {
  const message = serverMessage(body);
  // Errors inside a 200 stream carry their own code: in the envelope (upstream) or at the top (llamafile 0.8.x).
  const envelope = body !== null && typeof body === 'object' ? (body as { code?: unknown; error?: { code?: unknown } }) : undefined;
  const code = status ?? Number(envelope?.error?.code ?? envelope?.code ?? Number.NaN);
  const effective = Number.isFinite(code) ? code : undefined;
  if (effective === 401 || effective === 403) {
    return new AuthenticationError(effective, message, body, {
      hint: `${url} wants an API key: pass the one the server was started with (apiKey / --api-key).`,
    });
  }
  if (effective === 503) {
    return new ServerUnavailableError(effective, message, body, {
      hint: 'The server is still loading its model or has no free slot; retry in a moment.',
    });
  }
  if (effective === 404) {
    return new APIError(effective, message, body, {
      hint: `This server does not offer ${new URL(url).pathname}; older llamafile versions lack some endpoints.`,
    });
  }
  if (effective === 501) {
    return new APIError(effective, message, body, {
      hint: 'The server was started without this feature; see the message for the flag it needs.',
    });
  }
  if (effective !== undefined && effective >= 500) {
    return new APIError(effective, message, body, { hint: "Check the server's log (llamactl logs)." });
  }
  return new APIError(status ?? effective, message, body);
}

/** Turns a failure with no HTTP status (thrown by undici or by a signal) into a typed client error. */
export function transportError(
  error: unknown,
  context: { url: string; signal?: AbortSignal | undefined; timeoutMs: number },
): LlamactlError {
  if (error instanceof LlamactlError) return error;
  if (context.signal?.aborted) return new AbortError(`The request to ${context.url} was aborted.`, { cause: error });
  const code = codeOf(error);
  const kind = networkErrorKind(code);
  if (kind === 'timeout') {
    return new RequestTimeoutError(`${context.url} did not answer within ${context.timeoutMs} ms.`, {
      cause: error,
      hint: 'Raise timeoutMs, or check that the server is not stuck (llamactl logs).',
    });
  }
  if (kind === 'aborted' || (error instanceof Error && error.name === 'AbortError')) {
    return new AbortError(`The request to ${context.url} was aborted.`, { cause: error });
  }
  if (kind === 'refused') {
    return new ConnectionError(`Nothing is listening at ${new URL(context.url).origin} (connection refused).`, {
      cause: error,
      hint: 'Start a server first (llamactl serve) or check the URL and port.',
    });
  }
  if (kind === 'reset') {
    return new ConnectionError(`The connection to ${new URL(context.url).origin} was reset.`, {
      cause: error,
      hint: 'The server may have crashed or been stopped; check llamactl ps and llamactl logs.',
    });
  }
  if (kind === 'dns') {
    return new ConnectionError(`Could not resolve the host of ${context.url}.`, { cause: error });
  }
  const detail = error instanceof Error ? error.message : String(error);
  return new ConnectionError(`The request to ${context.url} failed: ${detail}.`, { cause: error });
}

function codeOf(error: unknown): string | undefined {
  for (let current = error, depth = 0; current && depth < 4; depth++) {
    if (typeof current !== 'object') return undefined;
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && code !== '') return code;
    // AggregateError from happy-eyeballs connects, then the `cause` chain.
    const errors = (current as { errors?: unknown[] }).errors;
    current = Array.isArray(errors) && errors.length > 0 ? errors[0] : (current as { cause?: unknown }).cause;
  }
  return undefined;
}
