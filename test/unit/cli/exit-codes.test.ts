import { describe, expect, it } from 'vitest';
import * as errors from '../../../src/errors.js';
import * as gatewayErrors from '../../../src/gateway/gateway-error.js';
import { EXIT_CODES, exitCodeOf } from '../../../src/cli/exit-codes.js';
import { flagFor, messageFor } from '../../../src/cli/report-error.js';

/** Every error class src/errors.ts (and the gateway's error module) exports, built with throwaway arguments. */
type AnyErrorClass = new (...args: unknown[]) => errors.LlamactlError;
const instances = ([...Object.values(errors), ...Object.values(gatewayErrors)] as unknown[])
  .filter((value): value is AnyErrorClass => typeof value === 'function' && value.prototype instanceof errors.LlamactlError)
  .map((ErrorClass) => new ErrorClass('message', { command: [] }, {}));

describe('the exit-code table', () => {
  it('has a row for every error class, equal to the exitCode the error carries', () => {
    expect(instances.length).toBeGreaterThan(15);
    for (const error of instances) {
      expect([error.name, EXIT_CODES[error.code as keyof typeof EXIT_CODES]]).toEqual([error.name, error.exitCode]);
    }
  });

  it('has no row without an error class', () => {
    expect(Object.keys(EXIT_CODES).sort()).toEqual([...new Set(instances.map((error) => error.code))].sort());
  });

  it('keeps the documented codes', () => {
    expect(exitCodeOf(new errors.UsageError('x'))).toBe(2);
    expect(exitCodeOf(new errors.HubNotFoundError('x'))).toBe(3);
    expect(exitCodeOf(new errors.AuthenticationError(401, 'x', undefined))).toBe(9);
    expect(exitCodeOf(new errors.AbortError())).toBe(130);
    expect(exitCodeOf(new errors.LlamactlError('x'))).toBe(1);
  });
});

describe('library options shown as flags', () => {
  it.each([
    ['connections', '--connections'],
    ['ctxSize', '--ctx-size'],
    ['stallTimeoutMs', '--stall-timeout'],
    ['timeoutMs', '--timeout'],
  ])('%s is %s', (option, flag) => {
    expect(flagFor(option)).toBe(flag);
  });

  it('puts the flag where the message names the option', () => {
    const error = new errors.UsageError('connections must be a whole number from 1 to 64, got 100.', { option: 'connections' });
    expect(messageFor(error)).toBe('--connections must be a whole number from 1 to 64, got 100.');
  });

  it('prefixes the flag to a message that does not start with the option', () => {
    const error = new errors.UsageError('A stall timeout of 0 ms would re-issue every request.', { option: 'stallTimeoutMs' });
    expect(messageFor(error)).toBe('--stall-timeout: A stall timeout of 0 ms would re-issue every request.');
  });

  it('leaves other messages alone', () => {
    expect(messageFor(new errors.UsageError('Name one server, or pass --all.'))).toBe('Name one server, or pass --all.');
    expect(messageFor(new errors.UsageError('--ctx-size must be at least 1.', { option: 'ctxSize' }))).toBe('--ctx-size must be at least 1.');
    expect(messageFor(new errors.NotFoundError('connections not found'))).toBe('connections not found');
  });
});

describe('error codes as literal types', () => {
  it('narrow on the class', () => {
    const code: 'E_USAGE' = new errors.UsageError('x').code;
    const hub: 'E_HUB' | 'E_HUB_AUTH' | 'E_HUB_NOT_FOUND' = new errors.HubAuthError('x').code;
    expect([code, hub]).toEqual(['E_USAGE', 'E_HUB_AUTH']);
  });
});
