/**
 * A hub ref such as `owner/repo` is also a relative path. Whatever exists at that path locally is what the user
 * meant, so it is never sent to the hub (with the token) as a repo name: the caller says what the path is instead.
 */
import { stat } from 'node:fs/promises';
import { describeKind } from '../system/regular-file.js';

/** What exists locally at `path` (following links), in words (`a directory`); `undefined` when nothing does. Never opens it. */
export async function localKind(path: string): Promise<string | undefined> {
  const info = await stat(path).catch(() => undefined);
  return info ? describeKind(info) : undefined;
}
