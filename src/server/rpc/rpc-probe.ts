/**
 * A short conversation with a llama.cpp `rpc-server` over its own protocol (ggml/src/ggml-rpc/ggml-rpc.cpp), to learn
 * before the head starts whether a worker is there, which protocol version it speaks, and how much memory its devices
 * report. A request is `cmd (u8) | size (u64 LE) | data`, an answer `size (u64 LE) | data`; the first command of a
 * connection must be HELLO. The server serves one client at a time, so the probe closes its connection at once.
 */
import { connect, type Socket } from 'node:net';
import { WorkerProtocolError, WorkerUnreachableError, WorkerVersionError } from '../../errors.js';

/** The protocol of the llama.cpp build llamactl pins (ggml-rpc.h RPC_PROTO_*_VERSION). */
export const RPC_PROTOCOL = { major: 7, minor: 0, patch: 0 } as const;

const CMD_GET_DEVICE_MEMORY = 11;
const CMD_HELLO = 14; // "must be always 14" in every version
const CMD_DEVICE_COUNT = 15;
/** Since protocol 4 the HELLO request carries 24 bytes of transport capabilities (zeros: plain TCP). */
const CONN_CAPS_SIZE = 24;
const MAX_DEVICES = 16;

export interface RpcVersion {
  major: number;
  minor: number;
  patch: number;
}

export interface WorkerDevice {
  freeBytes: number;
  totalBytes: number;
}

export interface WorkerProbe {
  endpoint: string;
  version: RpcVersion;
  devices: WorkerDevice[];
  /** Connect → last answer, in ms. */
  ms: number;
}

export interface ProbeOptions {
  /** For the connection and for each answer. @default 3000 */
  timeoutMs?: number | undefined;
  /**
   * The head's protocol: a worker whose major differs, or whose minor is newer, is refused (as llama.cpp does).
   * `null`: the head's build is not known, so only what the worker says is reported. @default RPC_PROTOCOL
   */
  expect?: RpcVersion | null | undefined;
}

export const formatVersion = (v: RpcVersion) => `${v.major}.${v.minor}.${v.patch}`;

/** Checks one worker; throws WorkerUnreachableError, WorkerVersionError or WorkerProtocolError. */
export async function probeWorker(host: string, port: number, options: ProbeOptions = {}): Promise<WorkerProbe> {
  const endpoint = `${host}:${port}`;
  const timeoutMs = options.timeoutMs ?? 3000;
  const expect = options.expect === undefined ? RPC_PROTOCOL : options.expect;
  const started = Date.now();
  const hello = Buffer.alloc(1 + 8 + CONN_CAPS_SIZE);
  hello[0] = CMD_HELLO;
  hello.writeBigUInt64LE(BigInt(CONN_CAPS_SIZE), 1);
  const link = await Link.open(host, port, timeoutMs);
  let version: RpcVersion;
  try {
    link.send(hello);
    const answer = await link.answer(4 + CONN_CAPS_SIZE);
    if (answer === 'closed') {
      // A server older than protocol 4 expects an empty HELLO and hangs up on ours: ask it the old way, for its number.
      version = await legacyHello(host, port, timeoutMs);
      if (expect) checkVersion(endpoint, version, expect);
      // An old worker for a head of unknown build: llama.cpp's own handshake decides; its memory is not known here.
      return { endpoint, version, devices: [], ms: Date.now() - started };
    }
    version = { major: answer[0]!, minor: answer[1]!, patch: answer[2]! };
    if (expect) checkVersion(endpoint, version, expect);
    const count = await link.request(CMD_DEVICE_COUNT, Buffer.alloc(0), 4);
    const devices: WorkerDevice[] = [];
    for (let device = 0; device < Math.min(count.readUInt32LE(0), MAX_DEVICES); device++) {
      const request = Buffer.alloc(4);
      request.writeUInt32LE(device, 0);
      const memory = await link.request(CMD_GET_DEVICE_MEMORY, request, 16);
      devices.push({ freeBytes: Number(memory.readBigUInt64LE(0)), totalBytes: Number(memory.readBigUInt64LE(8)) });
    }
    return { endpoint, version, devices, ms: Date.now() - started };
  } finally {
    link.close();
  }
}

function checkVersion(endpoint: string, worker: RpcVersion, head: RpcVersion): void {
  if (worker.major === head.major && worker.minor <= head.minor) return;
  const newer = worker.major > head.major || (worker.major === head.major && worker.minor > head.minor);
  throw new WorkerVersionError(
    endpoint,
    `The worker at ${endpoint} is a different llama.cpp build: it speaks RPC protocol ${formatVersion(worker)}, ` +
      `the head ${formatVersion(head)} (${newer ? 'the worker is newer' : 'the worker is older'})`,
    {
      workerVersion: formatVersion(worker),
      hint: 'Run rpc-server from the same llama.cpp build (release) as the head\'s llama-server on every machine.',
    },
  );
}

async function legacyHello(host: string, port: number, timeoutMs: number): Promise<RpcVersion> {
  const endpoint = `${host}:${port}`;
  const link = await Link.open(host, port, timeoutMs);
  try {
    const answer = await link.request(CMD_HELLO, Buffer.alloc(0), 3).catch((error: unknown) => {
      if (!(error instanceof WorkerProtocolError)) throw error;
      throw new WorkerProtocolError(
        endpoint,
        `${endpoint} hung up on the RPC hello, in the current and in the older message layout: it is an rpc-server ` +
          `of another llama.cpp build than the head (protocol ${formatVersion(RPC_PROTOCOL)}), or not an rpc-server`,
        { hint: 'Run the same llama.cpp build on every machine, and check the port.' },
      );
    });
    return { major: answer[0]!, minor: answer[1]!, patch: answer[2]! };
  } finally {
    link.close();
  }
}

/** One TCP connection with bounded, exact-size reads. */
class Link {
  #buffer = Buffer.alloc(0);
  #closed = false;
  #wake: (() => void) | undefined;

  private constructor(
    private readonly socket: Socket,
    private readonly endpoint: string,
    private readonly timeoutMs: number,
  ) {
    socket.on('data', (data: Buffer) => {
      // Nothing we ask for is longer than 64 bytes: more is not an rpc-server answering us.
      if (this.#buffer.length < 4096) this.#buffer = Buffer.concat([this.#buffer, data]);
      this.#wake?.();
    });
    const end = () => {
      this.#closed = true;
      this.#wake?.();
    };
    socket.on('end', end);
    socket.on('close', end);
    socket.on('error', end);
  }

  static open(host: string, port: number, timeoutMs: number): Promise<Link> {
    const endpoint = `${host}:${port}`;
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port, noDelay: true });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new WorkerUnreachableError(endpoint, `The worker at ${endpoint} did not accept a connection within ${seconds(timeoutMs)}`, {
          hint: 'Check that the host is up and that no firewall drops the port.',
        }));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(new Link(socket, endpoint, timeoutMs));
      });
      socket.once('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(unreachable(endpoint, error));
      });
    });
  }

  send(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  async request(cmd: number, data: Buffer, answerSize: number): Promise<Buffer> {
    const head = Buffer.alloc(9);
    head[0] = cmd;
    head.writeBigUInt64LE(BigInt(data.length), 1);
    this.send(Buffer.concat([head, data]));
    const answer = await this.answer(answerSize);
    if (answer === 'closed') {
      throw new WorkerProtocolError(this.endpoint, `${this.endpoint} closed the connection in the middle of the RPC handshake`, {
        hint: 'Check that it is an rpc-server of the same llama.cpp build as the head.',
      });
    }
    return answer;
  }

  /** The payload of the next answer, which must be `size` bytes; 'closed' when the peer hung up before answering. */
  async answer(size: number): Promise<Buffer | 'closed'> {
    const header = await this.take(8);
    if (header === 'closed') return 'closed';
    const announced = header.readBigUInt64LE(0);
    if (announced !== BigInt(size)) {
      const text = header.toString('latin1');
      const what = /^(HTTP\/|<|\{)/.test(text) ? 'it answered like a web server' : 'its answer is not llama.cpp RPC';
      throw new WorkerProtocolError(this.endpoint, `${this.endpoint} is not an rpc-server this head can use: ${what}`, {
        hint: 'Check the port: it must be the one `llamactl worker` (rpc-server) listens on.',
      });
    }
    const body = await this.take(size);
    if (body === 'closed') return 'closed';
    return body;
  }

  async take(n: number): Promise<Buffer | 'closed'> {
    const deadline = Date.now() + this.timeoutMs;
    while (this.#buffer.length < n) {
      if (this.#closed) return 'closed';
      const left = deadline - Date.now();
      const woke = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), Math.max(0, left));
        this.#wake = () => {
          clearTimeout(timer);
          resolve(true);
        };
      });
      this.#wake = undefined;
      if (!woke) {
        throw new WorkerProtocolError(
          this.endpoint,
          `${this.endpoint} accepted the connection but did not answer the RPC hello within ${seconds(this.timeoutMs)}: ` +
            'it is busy with another head (an rpc-server serves one client at a time), or it is not an rpc-server',
          { hint: 'Stop the other head using it, or check the port.' },
        );
      }
    }
    const out = this.#buffer.subarray(0, n);
    this.#buffer = this.#buffer.subarray(n);
    return Buffer.from(out);
  }

  close(): void {
    this.socket.destroy();
  }
}

function unreachable(endpoint: string, error: NodeJS.ErrnoException): WorkerUnreachableError {
  const reasons: Record<string, [string, string]> = {
    ECONNREFUSED: ['nothing listens there (connection refused)', 'Start the worker (llamactl worker) or fix the port.'],
    EHOSTUNREACH: ['there is no route to that host', 'Check the address and the network between the machines.'],
    ENETUNREACH: ['that network is unreachable from here', 'Check the address and the network between the machines.'],
    ENOTFOUND: ['that host name does not resolve', 'Check the spelling, or use an IP address.'],
    EAI_AGAIN: ['that host name does not resolve right now', 'Check DNS, or use an IP address.'],
    ETIMEDOUT: ['the connection timed out', 'Check that the host is up and that no firewall drops the port.'],
  };
  const [reason, hint] = reasons[error.code ?? ''] ?? [error.message, 'Check the address and that the worker runs.'];
  return new WorkerUnreachableError(endpoint, `Cannot reach the worker at ${endpoint}: ${reason}`, { hint, cause: error });
}

const seconds = (ms: number) => `${Math.round(ms / 100) / 10} s`;
