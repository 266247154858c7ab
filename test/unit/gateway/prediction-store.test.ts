import { describe, expect, test } from 'vitest';
import { GatewayError } from '../../../src/gateway/gateway-error.js';
import { PredictionStore } from '../../../src/gateway/prediction-store.js';

describe('PredictionStore', () => {
  test('ids: 128 random bits for get/cancel, 256 for the stream, all distinct', () => {
    const store = new PredictionStore();
    const records = Array.from({ length: 50 }, () => store.create('m', {}));
    expect(new Set(records.flatMap((r) => [r.id, r.streamId])).size).toBe(100);
    for (const record of records) {
      expect(record.id).toMatch(/^[a-z2-7]{26}$/);
      expect(record.streamId).toMatch(/^[a-z2-7]{52}$/);
      expect(store.byStream(record.streamId)).toBe(record);
    }
  });

  test('bounded by count (the oldest finished go first) and by age; running ones are never dropped', () => {
    const store = new PredictionStore({ maxCount: 2, maxAgeMs: 60_000 });
    const first = store.create('m', {});
    const second = store.create('m', {});
    expect(() => store.create('m', {})).toThrow(GatewayError);
    first.status = 'succeeded';
    first.completedAt = new Date();
    const third = store.create('m', {});
    expect(store.get(first.id)).toBeUndefined();
    expect(store.get(second.id)).toBe(second);
    expect(store.get(third.id)).toBe(third);
    const aged = new PredictionStore({ maxCount: 10, maxAgeMs: 1000 });
    const old = aged.create('m', {});
    old.status = 'failed';
    old.completedAt = new Date(Date.now() - 5000);
    aged.create('m', {});
    expect(aged.get(old.id)).toBeUndefined();
  });
});
