/**
 * The `llamactl chat` loop over node:readline. Works on a terminal (prompt, Ctrl-C cancels the answer being
 * written, Ctrl-D leaves) and with piped stdin (one question per line, for scripts and tests).
 */
import { createInterface } from 'node:readline';
import { ChatSession } from '../client/chat-session.js';
import { connect } from '../client/connect.js';
import { AbortError, isLlamactlError } from '../errors.js';
import { samplingParams, type GenerationFlags } from './generation-options.js';

export interface ChatReplFlags extends GenerationFlags {
  system?: string;
}

const HELP = 'Commands: /system TEXT, /reset, /exit. Ctrl-C cancels an answer; Ctrl-D leaves.';

export async function runChatRepl(target: string, flags: ChatReplFlags): Promise<void> {
  const interactive = Boolean(process.stdin.isTTY);
  const startup = new AbortController();
  const onStartupSignal = () => startup.abort(new AbortError('Interrupted while connecting.'));
  process.once('SIGINT', onStartupSignal);
  let connection;
  try {
    connection = await connect(target, {
      apiKey: flags.apiKey,
      runtime: flags.runtime,
      ctxSize: flags.ctxSize,
      gpuLayers: flags.gpuLayers,
      signal: startup.signal,
    });
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
  rl.on('SIGINT', onInterrupt);
  process.on('SIGINT', onInterrupt);
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
          process.stdout.write('\n');
          if (error instanceof AbortError && answering.signal.aborted) process.stderr.write('(cancelled)\n');
          else if (isLlamactlError(error)) process.stderr.write(`llamactl: ${error.message}${error.hint ? ` ${error.hint}` : ''}\n`);
          else throw error;
        } finally {
          answering = undefined;
        }
      }
      if (interactive) rl.prompt();
    }
  } finally {
    process.off('SIGINT', onInterrupt);
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
