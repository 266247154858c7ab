import { HubAuthError, HubError, HubNotFoundError } from '../errors.js';
import { RETRYABLE_STATUS, RetryableError, retryAfterMs } from '../http/retry.js';
import { header, type Headers } from '../http/send.js';
import { clipText, quoteName } from '../text/quote.js';

export interface HubTarget {
  repo: string;
  revision?: string | undefined;
  file?: string | undefined;
}

/**
 * Maps a failed hub answer to a typed error, using `X-Error-Code` the way huggingface_hub does. Retryable statuses
 * become `RetryableError` (with Retry-After).
 */
export function hubErrorFor(status: number, headers: Headers, target: HubTarget): Error {
  const code = header(headers, 'x-error-code');
  const serverMessage = header(headers, 'x-error-message');
  // The hub's own words, bounded and with controls escaped: a message is never the server's to flood or rewrite.
  const detail = serverMessage ? ` (hub: ${clipText(serverMessage, 200)})` : '';
  if (RETRYABLE_STATUS.has(status)) {
    return new RetryableError(`HTTP ${status} from the hub${detail}`, { status, retryAfterMs: retryAfterMs(headers) });
  }
  if (code === 'RepoNotFound' || (status === 404 && !code && !target.file)) {
    return new HubNotFoundError(`Repository ${target.repo} not found on the hub.`, {
      status,
      hint:
        status === 401
          ? 'Check the name; if the repo is private or gated, set HF_TOKEN (or the `token` option) to a token that can read it.'
          : 'Check the owner/repo name.',
    });
  }
  if (code === 'RevisionNotFound') {
    return new HubNotFoundError(`Revision ${target.revision ?? '?'} not found in ${target.repo}.`, {
      status,
      hint: 'Check the `revision` option (a branch, tag or commit).',
    });
  }
  if (code === 'EntryNotFound' || status === 404) {
    return new HubNotFoundError(`File ${target.file === undefined ? '?' : quoteName(target.file)} not found in ${target.repo} at ${target.revision ?? 'main'}.`, {
      status,
      hint: 'Leave the `file` option out to list the files the repo holds.',
    });
  }
  if (status === 401 || status === 403) {
    const gated = code === 'GatedRepo';
    const why = gated ? 'the model is gated' : status === 401 ? 'the token is missing or invalid' : 'the token may not read it';
    return new HubAuthError(`The hub refused access to ${target.repo}: ${why} (HTTP ${status})${detail}.`, {
      status,
      hint: gated
        ? "Accept the model's licence on its hub page, then set HF_TOKEN (or the `token` option) to a token of that account."
        : 'Set HF_TOKEN (or the `token` option) to a valid Hugging Face token that can read this repo.',
    });
  }
  return new HubError(`The hub answered HTTP ${status} for ${target.repo}${detail}.`, { status });
}
