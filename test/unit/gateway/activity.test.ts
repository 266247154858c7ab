/** The status page's list of recent requests: the last 100, oldest first, shaped for the page. */
import { expect, test } from 'vitest';
import { Activity } from '../../../src/gateway/activity.js';

test('keeps the last 100 requests in order, with tokens per second', () => {
  const activity = new Activity(() => ({ models: [], budget: { memoryBytes: 1, gpuMemoryBytes: undefined, holders: [] } }));
  for (let i = 0; i < 150; i++) activity.record({ model: `m${i}`, api: 'openai', route: '/v1/completions', status: 200, ms: 500, firstByteMs: 100.04, completionTokens: 10 });
  const { recent } = activity.snapshot();
  expect(recent).toHaveLength(100);
  expect(recent[0]!.model).toBe('m50');
  expect(recent.at(-1)).toMatchObject({ model: 'm149', tokensPerS: 20, firstByteMs: 100, at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
});
