/**
 * The `llamactl chat` loop over node:readline. Works on a terminal (prompt, Ctrl-C cancels the answer being
 * written, Ctrl-D leaves) and with piped stdin (one question per line, for scripts and tests).
 */
import { createInterface } from 'node:readline';
import { ChatSession } from '../client/chat-session.js';
import { connect, type Connection } from '../client/connect.js';
import { AbortError, isLlamactlError } from '../errors.js';
import { samplingParams, type GenerationFlags } from './generation-options.js';
import { sentences, stdoutClosed } from './output.js';

export interface ChatReplFlags extends GenerationFlags {
  system?: string;
}

const HELP = 'Commands: /system TEXT, /reset, /exit. Ctrl-C cancels an answer; Ctrl-D leaves.';

export async function runChatRepl(target: string, flags: ChatReplFlags): Promise<void> {
  const interactive = Boolean(process.stdin.isTTY);
  const startup = new AbortController();
  const onStartupSignal = () => startup.abort(new AbortError('Interrupted while connecting.'));
  process.once('SIGINT', onStartupSignal);
  let connection: Connection;
  try {
    connection = await connect(target, {
      apiKey: flags.apiKey,
      runtime: flags.runtime,
      ctxSize: flags.ctxSize,
      gpuLayers: flags.gpuLayers,
      force: flags.force,
      signal: startup.signal,
    });
    if (connection.source !== 'started') {
      // Find out now, not after the first question, that nothing answers there.
      const opened = connection;
      await opened.client.health({ signal: startup.signal }).catch(async (error: unknown) => {
        await opened.close();
        throw error;
      });
    }
  } finally {
    process.off('SIGINT', onStartupSignal);
  }
  const session = new ChatSession(connection.client, { system: flags.system, params: samplingParams(flags) });
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: interactive });
  let answering: AbortController | undefined;
  const onInterrupt = () => {
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
  rl.on('SIGINT', onInterrupt);
  process.on('SIGINT', onInterrupt);
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
    process.off('SIGINT', onInterrupt);
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
