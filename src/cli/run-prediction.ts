/** `llamactl run`: connect (or start a server), predict, stream to stdout, metrics to stderr. */
import { connect } from '../client/connect.js';
import { UsageError } from '../errors.js';
import { predict, type Prediction, type PredictionInput } from '../client/predict.js';
import { samplingParams, type GenerationFlags } from './generation-options.js';
import { formatDuration, printJson, withInterrupt } from './output.js';

export interface RunPredictionFlags extends GenerationFlags {
  prompt: string;
  system?: string;
  template?: string;
  minTokens?: number;
}

export async function runPrediction(target: string, flags: RunPredictionFlags): Promise<void> {
  if (flags.system !== undefined && flags.template === undefined) {
    throw new UsageError('--system needs --template: the system prompt has to go somewhere in the prompt.', {
      hint: 'Add --template llama3, llama2, chatml, or your own with {system_prompt} and {prompt}.',
    });
  }
  const { max_tokens, temperature, top_p, top_k, seed, stop } = samplingParams(flags);
  const input: PredictionInput = {
    prompt: flags.prompt,
    ...(flags.system === undefined ? {} : { system_prompt: flags.system }),
    ...(flags.template === undefined ? {} : { prompt_template: flags.template }),
    ...(max_tokens === undefined ? {} : { max_tokens }),
    ...(flags.minTokens === undefined ? {} : { min_tokens: flags.minTokens }),
    ...(temperature === undefined ? {} : { temperature }),
    ...(top_p === undefined ? {} : { top_p }),
    ...(top_k === undefined ? {} : { top_k }),
    ...(seed === undefined ? {} : { seed }),
    ...(stop === undefined ? {} : { stop }),
  };
  await withInterrupt(async (signal) => {
    const connection = await connect(target, {
      apiKey: flags.apiKey,
      runtime: flags.runtime,
      ctxSize: flags.ctxSize,
      gpuLayers: flags.gpuLayers,
      force: flags.force,
      signal,
    });
    try {
      let last = '';
      const prediction = await predict(connection.client, input, {
        signal,
        ...(flags.json
          ? {}
          : {
              onToken: (text: string) => {
                process.stdout.write(text);
                last = text;
              },
            }),
      });
      if (flags.json) {
        printJson(prediction);
      } else {
        if (!last.endsWith('\n')) process.stdout.write('\n');
        process.stderr.write(`${describeMetrics(prediction)}\n`);
      }
    } finally {
      await connection.close();
    }
  });
}

function describeMetrics({ metrics, stop_reason }: Prediction): string {
  const parts = [
    `${metrics.input_token_count ?? '?'} tokens in, ${metrics.output_token_count} out`,
    metrics.time_to_first_token === null ? undefined : `first token ${formatDuration(metrics.time_to_first_token * 1000)}`,
    metrics.tokens_per_second === null ? undefined : `${metrics.tokens_per_second.toFixed(1)} tokens/s`,
    `total ${formatDuration(metrics.total_time * 1000)}`,
    stop_reason === 'length' ? 'stopped at --max-tokens' : undefined,
  ];
  return parts.filter(Boolean).join(' · ');
}
