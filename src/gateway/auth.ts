/** API keys: `Authorization: Bearer <key>` (or Replicate's older `Token <key>`), compared in constant time. */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export class KeyCheck {
  readonly #digests: Buffer[];

  constructor(keys: readonly string[]) {
    this.#digests = keys.map(digest);
  }

  get required(): boolean {
    return this.#digests.length > 0;
  }

  /** True when no key is configured, or the request carries one of them. */
  allows(req: IncomingMessage): boolean {
    if (this.#digests.length === 0) return true;
    const match = /^(?:Bearer|Token)\s+(\S{1,4096})\s*$/i.exec(req.headers.authorization ?? '');
    if (!match) return false;
    const given = digest(match[1]!);
    // Check every key (no early exit), so the time taken does not say which one nearly matched.
    let ok = false;
    for (const key of this.#digests) ok = timingSafeEqual(key, given) || ok;
    return ok;
  }
}

/** Hashing first makes the comparison constant-time whatever the key lengths. */
function digest(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}
