import type { Command } from 'commander';
import type { Prediction, PredictionInput } from '../../client/predict.js';
import { UsageError } from '../../errors.js';
import { integer } from '../flags.js';
import { addSamplingOptions, addServerOptions, connectOptions, samplingParams, type GenerationFlags } from '../generation-options.js';
import { examples } from '../help.js';
import { formatDuration, printJson, withInterrupt } from '../output.js';

export interface RunCommandOptions extends GenerationFlags {
  prompt: string;
  system?: string;
  template?: string;
  minTokens?: number;
}

/** `llamactl run TARGET -p PROMPT`: connect (or start a server), predict, stream to stdout, metrics to stderr. */
export async function runCommand(target: string, options: RunCommandOptions): Promise<void> {
  if (options.system !== undefined && options.template === undefined) {
    throw new UsageError('--system needs --template: the system prompt has to go somewhere in the prompt.', {
      hint: 'Add --template llama3, llama2, chatml, or your own with {system_prompt} and {prompt}.',
    });
  }
  const { max_tokens, temperature, top_p, top_k, seed, stop } = samplingParams(options);
  const input: PredictionInput = {
    prompt: options.prompt,
    ...(options.system === undefined ? {} : { system_prompt: options.system }),
    ...(options.template === undefined ? {} : { prompt_template: options.template }),
    ...(max_tokens === undefined ? {} : { max_tokens }),
    ...(options.minTokens === undefined ? {} : { min_tokens: options.minTokens }),
    ...(temperature === undefined ? {} : { temperature }),
    ...(top_p === undefined ? {} : { top_p }),
    ...(top_k === undefined ? {} : { top_k }),
    ...(seed === undefined ? {} : { seed }),
    ...(stop === undefined ? {} : { stop }),
  };
  const [{ connect }, { predict }] = await Promise.all([import('../../server/connect.js'), import('../../client/predict.js')]);
  await withInterrupt(async (signal) => {
    const connection = await connect(target, connectOptions(options, signal));
    try {
      let last = '';
      const prediction = await predict(connection.client, input, {
        signal,
        ...(options.json
          ? {}
          : {
              onToken: (text: string) => {
                process.stdout.write(text);
                last = text;
              },
            }),
      });
      if (options.json) {
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

export function registerRun(program: Command): void {
  const command = program
    .command('run')
    .description('Complete a prompt with a model: stream the tokens to stdout, the metrics to stderr.')
    .argument('<model|url>', 'a server URL, a running server (name or model), or a model to start a server for')
    .requiredOption('-p, --prompt <text>', 'the prompt')
    .option('--system <text>', 'system prompt (needs --template)')
    .option('--template <name>', 'prompt template: llama3, llama2, chatml, or your own containing {prompt}')
    .option('--min-tokens <n>', 'generate at least this many tokens', integer('--min-tokens'));
  addSamplingOptions(command);
  addServerOptions(command);
  command
    .option('--json', 'print one prediction object (input, output, tokens, metrics) instead of streaming')
    .addHelpText(
      'after',
      examples([
        'llamactl run Llama-3.2-1B-Instruct.Q4_K_M -p "Why is the sky blue?" --template llama3',
        'llamactl run http://127.0.0.1:8080 -p "Once upon a time" --max-tokens 64 --seed 42',
        'llamactl run ./model.gguf --runtime ./llama-server -p "Hello" --json',
      ]),
    )
    .action((target: string, flags: RunCommandOptions) => runCommand(target, flags));
}
