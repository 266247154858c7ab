import type { Command } from 'commander';
import { examples } from '../help.js';
import { addSamplingOptions, addServerOptions } from '../generation-options.js';
import type { ChatReplFlags } from '../chat-repl.js';

export function registerChat(program: Command): void {
  const command = program
    .command('chat')
    .description('Chat with a model: history, streaming, /system, /reset, /exit; Ctrl-C cancels the answer.')
    .argument('<model|url>', 'a server URL, a running server (name or model), or a model to start a server for')
    .option('--system <text>', 'system prompt to start with');
  addSamplingOptions(command);
  addServerOptions(command);
  command
    .addHelpText(
      'after',
      `${examples([
        'llamactl chat Llama-3.2-1B-Instruct.Q4_K_M',
        'llamactl chat http://127.0.0.1:8080 --system "Answer in one sentence." --temperature 0.2',
        'printf "Hello\\n/exit\\n" | llamactl chat http://127.0.0.1:8080',
      ])}
In the chat:
  /system TEXT   set the system prompt (/system alone clears it)
  /reset         forget the conversation
  /exit          leave (or Ctrl-D); Ctrl-C cancels the answer being written
`,
    )
    .action(async (target: string, flags: ChatReplFlags) => {
      const { runChatRepl } = await import('../chat-repl.js');
      await runChatRepl(target, flags);
    });
}
