// PLACEHOLDER: the client engineer replaces this file with the full typed client. Keep the constructor and
// health() signatures stable: startServer() depends on them.
import { ConnectionError } from '../errors.js';

export interface LlamafileClientOptions {
  /** e.g. http://127.0.0.1:8080 */
  baseUrl: string;
  apiKey?: string | undefined;
  /** Per-request timeout. @default 600_000 */
  timeoutMs?: number | undefined;
}

export interface HealthStatus {
  /** true when the server answered 200. */
  ok: boolean;
  status: number;
  body: unknown;
}

export class LlamafileClient {
  readonly baseUrl: string;
  readonly apiKey: string | undefined;
  readonly timeoutMs: number;

  constructor(options: LlamafileClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.apiKey = options.apiKey;
    this.timeoutMs = options.timeoutMs ?? 600_000;
  }

  /** GET /health. Resolves with ok=false on 503 (loading); throws ConnectionError when nothing answers. */
  async health(options: { signal?: AbortSignal } = {}): Promise<HealthStatus> {
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}/health`, options.signal ? { signal: options.signal } : {});
    } catch (error) {
      throw new ConnectionError(`Could not connect to ${this.baseUrl}.`, { cause: error });
    }
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {}
    return { ok: response.status === 200, status: response.status, body };
  }
}
