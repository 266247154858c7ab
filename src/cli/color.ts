/**
 * Whether the CLI writes colour, and the few colours it writes. Colour appears only in the progress bars, which are
 * drawn only on a terminal; plain output, `--json` and errors never carry escape codes.
 */

/**
 * `FORCE_COLOR` wins (as in Node and chalk): `0` or `false` turns colour off, any other value on. Otherwise a
 * non-empty `NO_COLOR` (https://no-color.org) or `TERM=dumb` turns it off, and a terminal turns it on.
 */
export function colorEnabled(stream: { isTTY?: boolean } = process.stderr, env: NodeJS.ProcessEnv = process.env): boolean {
  const force = env.FORCE_COLOR;
  if (force !== undefined) return force !== '0' && force.toLowerCase() !== 'false';
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.TERM === 'dumb') return false;
  return Boolean(stream.isTTY);
}

const paint = (code: number) => (text: string) => (text === '' ? '' : `\x1b[${code}m${text}\x1b[0m`);
export const green = paint(32);
export const yellow = paint(33);
export const dim = paint(2);
