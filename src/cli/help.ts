/** Formats an "Examples:" block for `addHelpText('after', …)`. */
export function examples(lines: readonly string[]): string {
  return `\nExamples:\n${lines.map((line) => `  $ ${line}`).join('\n')}\n`;
}

export const EXIT_CODES_HELP = `
Environment:
  HF_TOKEN        Hugging Face token (sent only to the hub's own origin)
  HF_ENDPOINT     hub URL (default https://huggingface.co)
  LLAMACTL_HOME   where models and server records live (default $XDG_DATA_HOME/llamactl)
  NO_COLOR        no colour in the progress bars
  FORCE_COLOR     0 turns colour off, anything else on (wins over NO_COLOR)
  DEBUG           print stack traces on errors (same as --verbose)

Exit codes:
  0 ok · 1 unexpected error · 2 bad usage · 3 not found · 4 hub auth · 5 integrity/format
  6 no disk space / does not fit memory · 7 network/hub · 8 server failed to start · 9 client/API · 130 interrupted
`;
