/** Turns whatever a command threw into the one line on stderr (and the `--json` error object) and an exit code. */
import { CommanderError } from 'commander';
import { isLlamactlError, UsageError, type LlamactlError } from '../errors.js';
import { MAX_LISTED_CHOICES } from '../hub/choose-set.js';
import { EXIT_OK, EXIT_UNEXPECTED, EXIT_USAGE, exitCodeOf } from './exit-codes.js';
import { printJson, sentences, stdoutClosed } from './output.js';

/** Library options whose flag is not just the option in kebab case (the flag takes seconds, the option ms). */
const FLAGS: Record<string, string> = {
  stallTimeoutMs: '--stall-timeout',
  timeoutMs: '--timeout',
  graceMs: '--grace',
  memMb: '--mem',
};

/** `connections` → `--connections`, `ctxSize` → `--ctx-size`, `stallTimeoutMs` → `--stall-timeout`. */
export function flagFor(option: string): string {
  return FLAGS[option] ?? `--${option.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`;
}

/**
 * The message as the CLI user should read it. Library messages name the option (`connections must be …`); the user
 * typed a flag, so a message that opens with the option's name opens with the flag instead, and any other message
 * about an option is prefixed with the flag.
 */
export function messageFor(error: LlamactlError): string {
  if (!(error instanceof UsageError) || error.option === undefined) return error.message;
  const flag = flagFor(error.option);
  if (new RegExp(`^${error.option}\\b`).test(error.message)) return `${flag}${error.message.slice(error.option.length)}`;
  return error.message.includes(flag) ? error.message : `${flag}: ${error.message}`;
}

/** `{ choices }` for an error that lists what the user may choose from (AmbiguousModelError, ModelNotInRepoError). */
function choicesOf(error: LlamactlError): { choices?: string[] } {
  const choices = (error as { choices?: unknown }).choices;
  return Array.isArray(choices) && choices.every((c) => typeof c === 'string') ? { choices } : {};
}

export function reportError(error: unknown, argv: readonly string[]): number {
  // The reader of our output went away (`| head`): nothing to tell it, and not a failure.
  if (stdoutClosed.aborted) return EXIT_OK;
  if (error instanceof CommanderError) {
    // Commander already printed its message (or the help / version text).
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return EXIT_OK;
    if (error.code === 'commander.help') return EXIT_OK;
    return EXIT_USAGE;
  }
  const verbose = argv.includes('--verbose') || Boolean(process.env.DEBUG);
  const json = argv.includes('--json');
  if (isLlamactlError(error)) {
    const message = messageFor(error);
    // The one line lists a few choices (a repo may hold thousands of models); the JSON object carries them all.
    if (json) printJson({ type: 'error', code: error.code, message, hint: error.hint, ...choicesOf(error) });
    const { choices } = choicesOf(error);
    const hint = choices && choices.length > MAX_LISTED_CHOICES ? `${error.hint ?? ''} Run again with --json to list all ${choices.length}.`.trim() : error.hint;
    process.stderr.write(`llamactl: ${sentences(message, hint)}\n`);
    if (verbose && error.stack) process.stderr.write(`${error.stack}\n`);
    return exitCodeOf(error);
  }
  const message = error instanceof Error ? error.message : String(error);
  if (json) printJson({ type: 'error', code: 'E_INTERNAL', message });
  process.stderr.write(`llamactl: unexpected error: ${message}\n`);
  if (verbose && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  else process.stderr.write('Run again with --verbose for details, and please report this as a bug.\n');
  return EXIT_UNEXPECTED;
}
