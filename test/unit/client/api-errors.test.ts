import { describe, expect, it } from 'vitest';
import { apiError, parseBody, serverMessage, transportError } from '../../../src/client/api-errors.js';
import {
  AbortError,
  APIError,
  AuthenticationError,
  ConnectionError,
  RequestTimeoutError,
  ServerUnavailableError,
} from '../../../src/errors.js';

const URL_ = 'http://127.0.0.1:8080/v1/chat/completions';

describe('serverMessage', () => {
  it.each([
    ['upstream JSON envelope', { error: { code: 401, message: 'Invalid API Key', type: 'authentication_error' } }, 'Invalid API Key'],
    ['error as a string', { error: 'JSON missing model string' }, 'JSON missing model string'],
    ['0.8.x error frame', { content: 'slot unavailable' }, 'slot unavailable'],
    ['plain text', 'Unauthorized: Invalid API Key', 'Unauthorized: Invalid API Key'],
    ['multi-line plain text', '500 Internal Server Error\n[json.exception] bad\n', '500 Internal Server Error [json.exception] bad'],
    ['empty body', '', '(empty)'],
  ])('%s', (_, body, expected) => {
    expect(serverMessage(body)).toBe(expected);
  });
});

describe('parseBody', () => {
  it('parses JSON and keeps anything else as text', () => {
    expect(parseBody(' {"a":1} ')).toEqual({ a: 1 });
    expect(parseBody('File Not Found')).toBe('File Not Found');
    expect(parseBody('{not json')).toBe('{not json');
  });
});

describe('apiError', () => {
  it.each([
    [401, 'Unauthorized: Invalid API Key', AuthenticationError, 'E_API_AUTH'],
    [403, { error: { message: 'forbidden' } }, AuthenticationError, 'E_API_AUTH'],
    [503, { error: { code: 503, message: 'Loading model', type: 'unavailable_error' } }, ServerUnavailableError, 'E_API_UNAVAILABLE'],
    [404, 'File Not Found', APIError, 'E_API'],
    [400, { error: { message: 'bad', type: 'invalid_request_error' } }, APIError, 'E_API'],
    [500, '500 Internal Server Error', APIError, 'E_API'],
  ] as const)('maps %i to the right class, with the status, body and server message', (status, body, Class, code) => {
    const error = apiError(status, body, URL_);
    expect(error).toBeInstanceOf(Class);
    expect(error.code).toBe(code);
    expect(error.status).toBe(status);
    expect(error.body).toEqual(body);
    expect(error.message).toBe(`HTTP ${status}: ${serverMessage(body)}`);
    expect(error.exitCode).toBe(9);
  });

  it('takes the status from the envelope of an error sent inside a 200 stream', () => {
    const error = apiError(undefined, { error: { code: 503, message: 'busy' } }, URL_);
    expect(error).toBeInstanceOf(ServerUnavailableError);
    expect(error.status).toBe(503);
  });

  it('takes the status from a top-level code in a stream\'s error line', () => {
    const error = apiError(undefined, { code: 500, message: 'kv cache full', type: 'server_error' }, URL_);
    expect(error.status).toBe(500);
    expect(error.serverMessage).toBe('kv cache full');
  });

  it('has no status for a 0.8.x `error:` line without a code', () => {
    const error = apiError(undefined, { content: 'slot unavailable' }, URL_);
    expect(error.constructor).toBe(APIError);
    expect(error.status).toBeUndefined();
    expect(error.message).toBe('slot unavailable');
  });

  it('says which endpoint is missing on 404', () => {
    expect(apiError(404, 'File Not Found', 'http://h:1/v1/completions').hint).toContain('/v1/completions');
  });
});

describe('transportError', () => {
  const context = { url: URL_, timeoutMs: 1000 };
  it.each([
    [{ code: 'ECONNREFUSED' }, ConnectionError, /connection refused/],
    [new AggregateError([Object.assign(new Error('x'), { code: 'ECONNREFUSED' })]), ConnectionError, /connection refused/],
    [Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }), ConnectionError, /reset/],
    [Object.assign(new Error('t'), { code: 'UND_ERR_HEADERS_TIMEOUT' }), RequestTimeoutError, /within 1000 ms/],
    [Object.assign(new Error('t'), { code: 'UND_ERR_BODY_TIMEOUT' }), RequestTimeoutError, /within 1000 ms/],
    [Object.assign(new Error('a'), { code: 'UND_ERR_ABORTED' }), AbortError, /aborted/],
  ])('maps %o', (error, Class, message) => {
    const mapped = transportError(error, context);
    expect(mapped).toBeInstanceOf(Class);
    expect(mapped.message).toMatch(message);
    expect(mapped.cause).toBe(error);
  });

  it('reports an abort when the caller aborted, whatever undici threw', () => {
    const controller = new AbortController();
    controller.abort();
    expect(transportError(new Error('socket closed'), { ...context, signal: controller.signal })).toBeInstanceOf(AbortError);
  });

  it('passes llamactl errors through unchanged', () => {
    const error = apiError(401, 'x', URL_);
    expect(transportError(error, context)).toBe(error);
  });
});
