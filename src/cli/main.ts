import { Command, CommanderError } from 'commander';
import { isLlamactlError } from '../errors.js';
import { VERSION } from '../version.js';
import { registerChat } from './commands/chat.js';
import { registerDemo } from './commands/demo.js';
import { registerGateway } from './commands/gateway.js';
import { registerInspect } from './commands/inspect.js';
import { registerJoin } from './commands/join.js';
import { registerLogs } from './commands/logs.js';
import { registerLs } from './commands/ls.js';
import { registerPs } from './commands/ps.js';
import { registerPull } from './commands/pull.js';
import { registerRm } from './commands/rm.js';
import { registerRun } from './commands/run.js';
import { registerServe } from './commands/serve.js';
import { registerStop } from './commands/stop.js';
import { EXIT_CODES_HELP } from './help.js';
import { sentences, stdoutClosed, watchStdout } from './output.js';

/** Builds the command tree. Command modules are light; each loads its library code only when it runs. */
export function buildProgram(): Command {
  const program = new Command('llamactl')
    .description('Pull, serve and talk to llamafiles.')
    .version(VERSION, '-V, --version')
    .option('--verbose', 'print stack traces and debug detail on errors')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', EXIT_CODES_HELP)
    .exitOverride();
  for (const register of [
    registerPull,
    registerJoin,
    registerLs,
    registerRm,
    registerServe,
    registerGateway,
    registerPs,
    registerStop,
    registerLogs,
    registerRun,
    registerChat,
    registerInspect,
    registerDemo,
  ]) {
    register(program);
  }
  for (const command of program.commands) command.exitOverride();
  return program;
}

/** The CLI entry point: the one place that turns errors into messages and exit codes. */
export async function main(argv: readonly string[]): Promise<void> {
  const program = buildProgram();
  watchStdout();
  try {
    await program.parseAsync([...argv]);
  } catch (error) {
    process.exitCode = report(error, argv);
  }
}

function report(error: unknown, argv: readonly string[]): number {
  // The reader of our output went away (`| head`): nothing to tell it, and not a failure.
  if (stdoutClosed.aborted) return 0;
  if (error instanceof CommanderError) {
    // Commander already printed its message (or the help / version text).
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return 0;
    if (error.code === 'commander.help') return 0;
    return 2;
  }
  const verbose = argv.includes('--verbose') || Boolean(process.env.DEBUG);
  const json = argv.includes('--json');
  if (isLlamactlError(error)) {
    if (json) {
      process.stdout.write(
        `${JSON.stringify({ type: 'error', code: error.code, message: error.message, hint: error.hint })}\n`,
      );
    }
    process.stderr.write(`llamactl: ${sentences(error.message, error.hint)}\n`);
    if (verbose && error.stack) process.stderr.write(`${error.stack}\n`);
    return error.exitCode;
  }
  const message = error instanceof Error ? error.message : String(error);
  if (json) process.stdout.write(`${JSON.stringify({ type: 'error', code: 'E_INTERNAL', message })}\n`);
  process.stderr.write(`llamactl: unexpected error: ${message}\n`);
  if (verbose && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  else process.stderr.write('Run again with --verbose for details, and please report this as a bug.\n');
  return 1;
}
