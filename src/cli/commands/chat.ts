import type { Command } from 'commander';
import type { ChatSession } from '../../client/chat-session.js';
import { AbortError, isLlamactlError } from '../../errors.js';
import { addSamplingOptions, addServerOptions, connectOptions, samplingParams, type GenerationFlags } from '../generation-options.js';
import { examples } from '../help.js';
import { onInterrupt, sentences, stdoutClosed, withInterrupt } from '../output.js';

export interface ChatCommandOptions extends GenerationFlags {
  system?: string;
}

const HELP = 'Commands: /system TEXT, /reset, /exit. Ctrl-C cancels an answer; Ctrl-D leaves.';

/**
 * `llamactl chat TARGET`: a chat loop over node:readline. Works on a terminal (prompt, Ctrl-C cancels the answer
 * being written, Ctrl-D leaves) and with piped stdin (one question per line, for scripts and tests).
 */
export async function chatCommand(target: string, options: ChatCommandOptions = {}): Promise<void> {
  const [{ createInterface }, { ChatSession }, { connect }] = await Promise.all([
    import('node:readline'),
    import('../../client/chat-session.js'),
    import('../../server/connect.js'),
  ]);
  const interactive = Boolean(process.stdin.isTTY);
  const connection = await withInterrupt(async (signal) => {
    const opened = await connect(target, connectOptions(options, signal));
    if (opened.source !== 'started') {
      // Find out now, not after the first question, that nothing answers there.
      await opened.client.health({ signal }).catch(async (error: unknown) => {
        await opened.close();
        throw error;
      });
    }
    return opened;
  });
  const session = new ChatSession(connection.client, { system: options.system, params: samplingParams(options) });
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: interactive });
  let answering: AbortController | undefined;
  const interrupt = () => {
    if (answering) answering.abort(new AbortError('Answer cancelled.'));
    else if (interactive) {
      process.stdout.write(`\n${HELP}\n`);
      rl.prompt();
    } else rl.close();
  };
  const onStdoutClosed = () => {
    answering?.abort(new AbortError('Standard output was closed.'));
    rl.close();
  };
  // Ctrl-C reaches readline on a terminal, and the process as a signal when stdin is piped.
  rl.on('SIGINT', interrupt);
  using interrupts = onInterrupt(interrupt, ['SIGINT']);
  stdoutClosed.addEventListener('abort', onStdoutClosed, { once: true });
  rl.setPrompt('>>> ');
  if (interactive) {
    process.stderr.write(`Connected to ${connection.url}. ${HELP}\n`);
    rl.prompt();
  }
  try {
    for await (const raw of rl) {
      const line = raw.trim();
      if (line === '/exit' || line === '/quit' || line === '/bye') break;
      if (line.startsWith('/')) {
        command(session, line);
      } else if (line !== '') {
        answering = new AbortController();
        try {
          await session.send(line, { signal: answering.signal, onToken: (text) => process.stdout.write(text) });
          process.stdout.write('\n');
        } catch (error) {
          if (stdoutClosed.aborted) break;
          process.stdout.write('\n');
          if (error instanceof AbortError && answering.signal.aborted) process.stderr.write('(cancelled)\n');
          // A person can read the error and ask again; a script gets it as the exit status.
          else if (interactive && isLlamactlError(error)) process.stderr.write(`llamactl: ${sentences(error.message, error.hint)}\n`);
          else throw error;
        } finally {
          answering = undefined;
        }
      }
      if (interactive) rl.prompt();
    }
  } finally {
    stdoutClosed.removeEventListener('abort', onStdoutClosed);
    rl.close();
    await connection.close();
  }
}

function command(session: ChatSession, line: string): void {
  const [name = '', ...rest] = line.split(' ');
  const argument = rest.join(' ').trim();
  if (name === '/system') {
    session.setSystem(argument);
    process.stderr.write(argument ? '(system prompt set)\n' : '(system prompt cleared)\n');
  } else if (name === '/reset') {
    session.reset();
    process.stderr.write('(conversation cleared)\n');
  } else {
    process.stderr.write(`Unknown command ${name}. ${HELP}\n`);
  }
}

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
    .action((target: string, flags: ChatCommandOptions) => chatCommand(target, flags));
}
