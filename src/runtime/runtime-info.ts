/** What kind of server executable llamactl is driving; decides the argv and how readiness is probed. */
export type RuntimeKind =
  /** llamafile 0.8.x / 0.9.x running the old llama.cpp server fork (`--server`). */
  | 'llamafile-legacy'
  /** llamafile 0.9.x's second server, "llamafiler" (`--server --v2`): `-l HOST:PORT`, no /health, no API keys. */
  | 'llamafiler'
  /** llamafile 0.10.x: a wrapper around upstream llama-server. */
  | 'llamafile-0.10'
  /** A bare upstream llama.cpp `llama-server`. */
  | 'llama-server';

export interface RuntimeInfo {
  /** Absolute path of the executable. */
  path: string;
  kind: RuntimeKind;
  /** The version string as printed (`0.8.13`, `0.10.0-standin`, `b1234-abcdef`), when one was found. */
  version: string | undefined;
  /** True when the file starts with the APE magic `MZqFpD` (a llamafile / cosmopolitan binary). */
  ape: boolean;
}
