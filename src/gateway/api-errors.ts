/**
 * Each API's own error shape, so that its official client raises its own error class: OpenAI's
 * `{"error":{"message","type","code","param"}}` (also what llama-server sends for its own routes), Anthropic's
 * `{"type":"error","error":{"type","message"}}`, Replicate's problem details, Workers AI's envelope. A stream that
 * breaks after its status was sent ends with the error event its client reads.
 */
import type { ServerResponse } from 'node:http';
import type { Api, GatewayError } from './gateway-error.js';
import { errorHeaders, sendJson } from './http-io.js';
import { sendReplicateError } from './replicate-routes.js';
import { sendWorkersAiError } from './workers-ai-routes.js';

export type { Api } from './gateway-error.js';

export function sendApiError(api: Api, res: ServerResponse, error: GatewayError): void {
  if (api === 'anthropic') sendAnthropicError(res, error);
  else if (api === 'replicate') sendReplicateError(res, error);
  else if (api === 'workers-ai') sendWorkersAiError(res, error);
  else sendOpenAiError(res, error);
}

export function sendOpenAiError(res: ServerResponse, error: GatewayError): void {
  sendJson(res, error.status, { error: { message: error.message, type: openAiType(error.status), code: error.reason, param: error.param ?? null } }, errorHeaders(error));
}

export function sendAnthropicError(res: ServerResponse, error: GatewayError): void {
  sendJson(res, error.status, anthropicError(error.status, error.message), errorHeaders(error));
}

export function anthropicError(status: number, message: string): { type: 'error'; error: { type: string; message: string } } {
  return { type: 'error', error: { type: anthropicType(status), message } };
}

/**
 * The last event of a stream that broke off: `data: {"error":…}` for chat/completions (the OpenAI clients throw it),
 * a named `error` event for the Responses and Messages APIs (their clients' event types).
 */
export function streamErrorEvent(api: Api, path: string, message: string, reason: string): string {
  if (api === 'anthropic') return `event: error\ndata: ${JSON.stringify(anthropicError(500, message))}\n\n`;
  if (path.startsWith('/v1/responses')) return `event: error\ndata: ${JSON.stringify({ type: 'error', code: reason, message, param: null })}\n\n`;
  return `data: ${JSON.stringify({ error: { message, type: 'server_error', code: reason } })}\n\n`;
}

function openAiType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 429) return 'rate_limit_error';
  return status < 500 ? 'invalid_request_error' : 'server_error';
}

/** Anthropic's error types by status (https://docs.anthropic.com/en/api/errors). */
function anthropicType(status: number): string {
  switch (status) {
    case 401:
      return 'authentication_error';
    case 403:
      return 'permission_error';
    case 404:
      return 'not_found_error';
    case 413:
      return 'request_too_large';
    case 429:
      return 'rate_limit_error';
    case 503:
    case 529:
      return 'overloaded_error';
    default:
      return status < 500 ? 'invalid_request_error' : 'api_error';
  }
}
