import type { Command } from 'commander';
import { examples } from '../help.js';
import { addSamplingOptions, addServerOptions, integer } from '../generation-options.js';
import type { RunPredictionFlags } from '../run-prediction.js';

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
    .action(async (target: string, flags: RunPredictionFlags) => {
      const { runPrediction } = await import('../run-prediction.js');
      await runPrediction(target, flags);
    });
}
