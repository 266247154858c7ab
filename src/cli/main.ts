import { Command } from 'commander';
import { VERSION } from '../version.js';
import { registerChat } from './commands/chat.js';
import { registerDemo } from './commands/demo.js';
import { registerExtract } from './commands/extract.js';
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
import { registerWorker } from './commands/worker.js';
import { EXIT_CODES_HELP } from './help.js';
import { watchStdout } from './output.js';
import { reportError } from './report-error.js';

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
    registerWorker,
    registerRun,
    registerChat,
    registerInspect,
    registerExtract,
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
    process.exitCode = reportError(error, argv);
  }
}
