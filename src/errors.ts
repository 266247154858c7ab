/**
 * The whole error hierarchy. Every error llamactl throws on purpose is a `LlamactlError` with a stable `code`
 * (for programs; a literal type on each class, so `error.code` narrows) and a message that says what happened and
 * what to do next (for people). `exitCode` is what the CLI exits with, for programs that embed the library; the CLI's
 * own table is src/cli/exit-codes.ts (a test keeps the two equal), and the README lists it ("Exit codes").
 */

export interface LlamactlErrorOptions {
  cause?: unknown;
  /** One sentence telling the user what to do next. Printed after the message. */
  hint?: string;
}

export class LlamactlError extends Error {
  override name = 'LlamactlError';
  readonly code: string = 'E_LLAMACTL';
  readonly exitCode: number = 1;
  readonly hint: string | undefined;

  constructor(message: string, options: LlamactlErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.hint = options.hint;
  }
}

/** Bad input from the user: a malformed ref, a bad flag value, an unsafe file name. Exit 2. */
export class UsageError extends LlamactlError {
  override name = 'UsageError';
  override readonly code = 'E_USAGE' as const;
  override readonly exitCode: number = 2;
  /**
   * The library option the bad value was given for (`connections`, `stallTimeoutMs`), when there is one. Library
   * messages name options, never CLI flags; the CLI maps this to its flag when it prints the error.
   */
  readonly option: string | undefined;
  constructor(message: string, options: LlamactlErrorOptions & { option?: string } = {}) {
    super(message, options);
    this.option = options.option;
  }
}

/** Something named by the user does not exist: a model, a file, a server record. Exit 3. */
export class NotFoundError extends LlamactlError {
  override name = 'NotFoundError';
  override readonly code = 'E_NOT_FOUND' as const;
  override readonly exitCode: number = 3;
}

/** The operation was cancelled (Ctrl-C, an AbortSignal). Exit 130. */
export class AbortError extends LlamactlError {
  override name = 'AbortError';
  override readonly code = 'E_ABORTED' as const;
  override readonly exitCode: number = 130;
  constructor(message = 'The operation was aborted.', options: LlamactlErrorOptions = {}) {
    super(message, options);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Hugging Face hub and downloads

/** The hub answered with an error or something that is not what its protocol promises. Exit 7. */
export class HubError extends LlamactlError {
  override name = 'HubError';
  override readonly code: 'E_HUB' | 'E_HUB_AUTH' | 'E_HUB_NOT_FOUND' = 'E_HUB';
  override readonly exitCode: number = 7;
  /** HTTP status, when the failure came with one. */
  readonly status: number | undefined;
  constructor(message: string, options: LlamactlErrorOptions & { status?: number } = {}) {
    super(message, options);
    this.status = options.status;
  }
}

/** 401/403 from the hub: missing or bad token, gated model whose licence is not accepted. Exit 4. */
export class HubAuthError extends HubError {
  override name = 'HubAuthError';
  override readonly code = 'E_HUB_AUTH' as const;
  override readonly exitCode: number = 4;
}

/** 404 from the hub: repo, revision or file not found. Exit 3. */
export class HubNotFoundError extends HubError {
  override name = 'HubNotFoundError';
  override readonly code = 'E_HUB_NOT_FOUND' as const;
  override readonly exitCode: number = 3;
}

/** The network failed and retries were exhausted (resets, timeouts, 5xx, stalls). Exit 7. */
export class NetworkError extends LlamactlError {
  override name = 'NetworkError';
  override readonly code = 'E_NETWORK' as const;
  override readonly exitCode: number = 7;
}

/** Bytes on disk do not match what the hub says (sha256 or size). Exit 5. */
export class IntegrityError extends LlamactlError {
  override name = 'IntegrityError';
  override readonly code = 'E_INTEGRITY' as const;
  override readonly exitCode: number = 5;
}

/** Not enough free disk space for what is still to be written. Exit 6. */
export class DiskSpaceError extends LlamactlError {
  override name = 'DiskSpaceError';
  override readonly code = 'E_DISK_SPACE' as const;
  override readonly exitCode: number = 6;
}

/** The model will not fit this machine's memory (raised only when the user asked for the check to be strict). Exit 6. */
export class InsufficientMemoryError extends LlamactlError {
  override name = 'InsufficientMemoryError';
  override readonly code = 'E_INSUFFICIENT_MEMORY' as const;
  override readonly exitCode: number = 6;
}

// ---------------------------------------------------------------------------------------------------------------
// File formats

/** A file is not a valid llamafile / zip / GGUF, or is truncated or corrupt. Exit 5. */
export class FormatError extends LlamactlError {
  override name = 'FormatError';
  override readonly code = 'E_FORMAT' as const;
  override readonly exitCode: number = 5;
}

// ---------------------------------------------------------------------------------------------------------------
// Runtimes and servers

/** The executable cannot be used: not executable, unknown runtime, bad binary. Exit 8. */
export class RuntimeError extends LlamactlError {
  override name = 'RuntimeError';
  override readonly code = 'E_RUNTIME' as const;
  override readonly exitCode: number = 8;
}

export interface ProcessFailureDetails {
  /** The argv the process was started with. */
  command: readonly string[];
  exitCode?: number | undefined;
  signal?: string | undefined;
  /** The last few KB of the process' combined output. */
  outputTail?: string | undefined;
  durationMs?: number | undefined;
}

/** The server process exited (or was killed) before it became ready. Exit 8. */
export class ServerStartError extends LlamactlError {
  override name = 'ServerStartError';
  override readonly code: 'E_SERVER_START' | 'E_SERVER_TIMEOUT' = 'E_SERVER_START';
  override readonly exitCode: number = 8;
  readonly details: ProcessFailureDetails;
  constructor(message: string, details: ProcessFailureDetails, options: LlamactlErrorOptions = {}) {
    super(message, options);
    this.details = details;
  }
}

/** The server did not become ready within its (progress-aware) deadline. Exit 8. */
export class ServerTimeoutError extends ServerStartError {
  override name = 'ServerTimeoutError';
  override readonly code = 'E_SERVER_TIMEOUT' as const;
}

/**
 * A server that was ready went down on its own: it crashed, or was killed, with no restarts left. What execa's
 * error says of a failed process is in `details`: the command, its exit code or signal, its last output and how
 * long it ran. Exit 8.
 */
export class ServerExitError extends LlamactlError {
  override name = 'ServerExitError';
  override readonly code = 'E_SERVER_EXIT' as const;
  override readonly exitCode: number = 8;
  readonly details: ProcessFailureDetails;
  constructor(message: string, details: ProcessFailureDetails, options: LlamactlErrorOptions = {}) {
    super(message, options);
    this.details = details;
  }
}

/** The port asked for is already taken. Exit 8. */
export class PortInUseError extends LlamactlError {
  override name = 'PortInUseError';
  override readonly code = 'E_PORT_IN_USE' as const;
  override readonly exitCode: number = 8;
  readonly port: number;
  constructor(port: number, host: string, options: LlamactlErrorOptions = {}) {
    super(`Port ${port} on ${host} is already in use.`, {
      hint: 'Pick another --port, or leave --port out to use a free one.',
      ...options,
    });
    this.port = port;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// HTTP client (shape after openai-node: status errors carry the parsed body; connection errors have no status)

/** Base of every error raised by `LlamafileClient`. Exit 9. */
export class ClientError extends LlamactlError {
  override name = 'ClientError';
  override readonly code: 'E_CLIENT' | APIError['code'] | ConnectionError['code'] = 'E_CLIENT';
  override readonly exitCode: number = 9;
}

/** The server answered with a non-2xx status (or an error inside a stream). */
export class APIError extends ClientError {
  override name = 'APIError';
  override readonly code: 'E_API' | 'E_API_AUTH' | 'E_API_UNAVAILABLE' = 'E_API';
  readonly status: number | undefined;
  /** The error body: the parsed JSON envelope, or the plain text old llamafile servers send. */
  readonly body: unknown;
  /** The server's own message, extracted from whichever shape it used. */
  readonly serverMessage: string;
  constructor(status: number | undefined, serverMessage: string, body: unknown, options: LlamactlErrorOptions = {}) {
    super(status === undefined ? serverMessage : `HTTP ${status}: ${serverMessage}`, options);
    this.status = status;
    this.body = body;
    this.serverMessage = serverMessage;
  }
}

/** 401: the server wants an API key, or the one given is wrong. */
export class AuthenticationError extends APIError {
  override name = 'AuthenticationError';
  override readonly code = 'E_API_AUTH' as const;
}

/** 503 while the model is still loading (or no slot is free). Retry later. */
export class ServerUnavailableError extends APIError {
  override name = 'ServerUnavailableError';
  override readonly code = 'E_API_UNAVAILABLE' as const;
}

/** No HTTP response at all: connection refused, reset, DNS. */
export class ConnectionError extends ClientError {
  override name = 'ConnectionError';
  override readonly code: 'E_CONNECTION' | 'E_TIMEOUT' = 'E_CONNECTION';
}

/** The request took longer than `timeoutMs`. */
export class RequestTimeoutError extends ConnectionError {
  override name = 'RequestTimeoutError';
  override readonly code = 'E_TIMEOUT' as const;
}

// llama.cpp RPC workers (`llamactl worker`, `serve --rpc`); `endpoint` is the worker's `host:port`.

/** A worker named in `--rpc` cannot be reached: nothing listens there, or the host does not answer. Exit 7. */
export class WorkerUnreachableError extends LlamactlError {
  override name = 'WorkerUnreachableError';
  override readonly code = 'E_RPC_UNREACHABLE' as const;
  override readonly exitCode: number = 7;
  constructor(readonly endpoint: string, message: string, options: LlamactlErrorOptions = {}) {
    super(message, options);
  }
}

/** A worker this head cannot use: another RPC protocol version (another build), or not an rpc-server at all. Exit 8. */
export class WorkerProtocolError extends LlamactlError {
  override name = 'WorkerProtocolError';
  override readonly code: 'E_RPC_PROTOCOL' | 'E_RPC_VERSION' = 'E_RPC_PROTOCOL';
  override readonly exitCode: number = 8;
  /** The worker's RPC protocol version (`3.0.0`), when it told us. */
  readonly workerVersion: string | undefined;
  constructor(readonly endpoint: string, message: string, options: LlamactlErrorOptions & { workerVersion?: string | undefined } = {}) {
    super(message, options);
    this.workerVersion = options.workerVersion;
  }
}

/** Another build than the head's (llama.cpp's most common RPC failure): "run the same llama.cpp everywhere". Exit 8. */
export class WorkerVersionError extends WorkerProtocolError {
  override name = 'WorkerVersionError';
  override readonly code = 'E_RPC_VERSION' as const;
}

/** A worker went away while the head was using it (killed, crashed, network cut). Exit 8. */
export class WorkerLostError extends LlamactlError {
  override name = 'WorkerLostError';
  override readonly code = 'E_RPC_WORKER_LOST' as const;
  override readonly exitCode: number = 8;
  constructor(readonly endpoint: string, message: string, options: LlamactlErrorOptions = {}) {
    super(message, options);
  }
}

/** `true` for errors whose message is meant for a person as is (no stack trace needed). */
export function isLlamactlError(error: unknown): error is LlamactlError {
  return error instanceof LlamactlError;
}
