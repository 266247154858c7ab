import { describe, expect, it } from 'vitest';
import { parsePrometheus } from '../../../src/client/metrics.js';

describe('parsePrometheus', () => {
  it('parses llama.cpp /metrics text into numbers', () => {
    const text = [
      '# HELP llamacpp:prompt_tokens_total Number of prompt tokens processed.',
      '# TYPE llamacpp:prompt_tokens_total counter',
      'llamacpp:prompt_tokens_total 46',
      'llamacpp:prompt_seconds_total 0.123',
      'llamacpp:kv_cache_usage_ratio 1.5e-2',
      'llamacpp:requests_processing 0',
      'http_requests_total{method="post",code="200"} 1027 1395066363000',
      'weird{label="a b}"} +Inf',
      'nan_metric NaN',
      '',
    ].join('\n');
    const metrics = parsePrometheus(text);
    expect(metrics).toEqual({
      'llamacpp:prompt_tokens_total': 46,
      'llamacpp:prompt_seconds_total': 0.123,
      'llamacpp:kv_cache_usage_ratio': 0.015,
      'llamacpp:requests_processing': 0,
      'http_requests_total{method="post",code="200"}': 1027,
      'weird{label="a b}"}': Number.POSITIVE_INFINITY,
      nan_metric: Number.NaN,
    });
  });

  it('skips lines without a value', () => {
    expect(parsePrometheus('lonely\nok 1\nbad x\n')).toEqual({ ok: 1 });
  });
});
