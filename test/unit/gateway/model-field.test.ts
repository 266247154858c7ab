import { describe, expect, test } from 'vitest';
import { GatewayError } from '../../../src/gateway/gateway-error.js';
import { modelField } from '../../../src/gateway/model-field.js';

const field = (text: string) => modelField(Buffer.from(text));

describe('modelField', () => {
  test.each([
    ['{"model":"tiny-a","messages":[]}', 'tiny-a'],
    ['  {\n "model" : "tiny-a" }', 'tiny-a'],
    ['{"messages":[{"role":"user","content":"a \\"model\\": \\"x\\" {[,"}],"stream":true,"n":1.5e3,"x":null,"model":"b"}', 'b'],
    ['{"nested":{"model":"inner"},"model":"outer"}', 'outer'],
    ['{"list":[{"model":"inner"}],"model":"outer"}', 'outer'],
    ['{"model":"naïve-模型"}', 'naïve-模型'],
    ['{"model":"a\\u0062c"}', 'abc'], // an escape: the full parse decides
    ['{"mo\\u0064el":"escaped-key"}', 'escaped-key'],
    ['{"model":7}', 7],
    ['{"prompt":"x"}', undefined],
    ['{}', undefined],
    ['{"a":"\\\\","model":"after-backslash"}', 'after-backslash'],
  ])('%s → %j', (body, expected) => expect(field(body)).toEqual(expected));

  test('whatever the scan finds agrees with JSON.parse on well-formed bodies', () => {
    const bodies = [
      { model: 'm', messages: [{ role: 'user', content: 'hi "there" \\ {}' }] },
      { temperature: 0, stop: ['\n', '"'], model: 'x/y:z' },
      { tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: { model: { type: 'string' } } } } }], model: 'm2' },
    ];
    for (const body of bodies) expect(field(JSON.stringify(body))).toBe(body.model);
  });

  test('a body that is not a JSON object is a 400, as with a full parse', () => {
    for (const body of ['', 'not json', '[1,2]', '{"model":', '{"a":1,,"model":"x"}']) {
      expect(() => field(body), body).toThrow(GatewayError);
    }
  });
});
