/**
 * Runs one Replicate prediction: waits for a slot (status `starting`), formats the prompt (the input's template, the
 * model's configured one, or else the model's own chat template through the engine's /apply-template), streams the
 * tokens through `predict()` into the record (`processing`), and ends `succeeded`, `failed` (with the engine's last
 * output if it died) or `canceled` (the upstream request is aborted at once, freeing the slot).
 */
import { predict, type PredictionInput } from '../client/predict.js';
import { renderPrompt, resolveTemplate } from '../client/prompt-templates.js';
import type { RunningServer } from '../server/running-server.js';
import type { GatewayModelConfig } from './config.js';
import type { GatewayContext } from './context.js';
import { toGatewayError } from './gateway-error.js';
import type { FinishedRequest } from './metrics.js';
import type { PredictionRecord } from './prediction-store.js';

export async function runPrediction(
  ctx: GatewayContext,
  record: PredictionRecord,
  model: GatewayModelConfig,
  input: PredictionInput,
): Promise<void> {
  const signal = record.controller.signal;
  const log = (line: string) => record.logs.push(`${new Date().toISOString()} ${line}`);
  let ok = false;
  const done: FinishedRequest = { model: model.name, api: 'replicate', route: '/v1/predictions', status: 500, ms: 0 };
  try {
    const lease = await ctx.scheduler.acquire(model, signal);
    try {
      record.status = 'processing';
      record.startedAt = new Date();
      record.notify();
      const prepared = await formatted(lease.server, model, input, signal);
      log(`Formatted prompt: ${prepared.prompt}`);
      const result = await predict(lease.server.client, prepared, {
        signal,
        onToken: (token) => {
          record.output.push(token);
          record.notify();
        },
      }).catch(async (error: unknown) => {
        if (signal.aborted) throw error;
        throw (await lease.crashError()) ?? error;
      });
      const { source: _source, ...metrics } = result.metrics;
      record.metrics = { ...metrics, total_time: (Date.now() - record.createdAt.getTime()) / 1000 };
      log(`Generated ${metrics.output_token_count} tokens in ${metrics.predict_time.toFixed(3)} s (stop: ${result.stop_reason}).`);
      ok = true;
      done.promptTokens = metrics.input_token_count ?? undefined;
      done.completionTokens = metrics.output_token_count;
      if (metrics.time_to_first_token !== null) done.firstByteMs = metrics.time_to_first_token * 1000;
    } finally {
      lease.release(ok);
    }
    if (record.status === 'processing') record.status = 'succeeded';
  } catch (error) {
    if (signal.aborted || record.status === 'canceled') {
      record.status = 'canceled';
      log('Prediction canceled.');
    } else {
      record.status = 'failed';
      record.error = toGatewayError(error).message;
      log(`Prediction failed: ${record.error}`);
    }
  } finally {
    record.completedAt ??= new Date();
    done.status = record.status === 'succeeded' ? 200 : record.status === 'canceled' ? 499 : 500;
    done.ms = record.completedAt.getTime() - record.createdAt.getTime();
    ctx.metrics.finished(done);
    record.notify();
  }
}

/** The prompt as the engine gets it, and the input for predict() with the template already applied. */
async function formatted(
  server: RunningServer,
  model: GatewayModelConfig,
  input: PredictionInput,
  signal: AbortSignal,
): Promise<PredictionInput & { prompt: string }> {
  const { system_prompt, prompt_template, ...rest } = input;
  const templateText = prompt_template ?? model.promptTemplate;
  if (templateText !== undefined) {
    const template = resolveTemplate(templateText);
    const prompt = renderPrompt(template, { prompt: input.prompt, system_prompt });
    return { ...rest, prompt, ...(template.stop.length > 0 ? { stop: [...toList(rest.stop), ...template.stop] } : {}) };
  }
  // No template named: the model's own chat template, as the engine applies it for /v1/chat/completions.
  const messages = [...(system_prompt ? [{ role: 'system', content: system_prompt }] : []), { role: 'user', content: input.prompt }];
  const response = await fetch(`${server.url}/apply-template`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${server.client.apiKey ?? ''}` },
    body: JSON.stringify({ messages }),
    signal,
  }).catch(() => undefined);
  const body = response?.ok ? ((await response.json()) as { prompt?: unknown }) : undefined;
  if (typeof body?.prompt === 'string') return { ...rest, prompt: body.prompt };
  return { ...rest, prompt: system_prompt ? `${system_prompt}\n\n${input.prompt}` : input.prompt };
}

function toList(stop: string | string[] | undefined): string[] {
  return stop === undefined ? [] : typeof stop === 'string' ? [stop] : stop;
}
