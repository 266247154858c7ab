/**
 * The webhook signing secret: a configured one wins; otherwise it is kept (0600) in the llamactl home, so it stays the
 * same across restarts; a kept file others may read, a link, or one that holds no secret is refused; no home, no file.
 */
import { chmod, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { webhookSecret, webhookSecretPath } from '../../../src/gateway/webhook-secret.js';

let home: string;
let env: NodeJS.ProcessEnv;
beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'llamactl-whsec-'));
  env = { LLAMACTL_HOME: home };
});
afterEach(() => rm(home, { recursive: true, force: true }));

test('kept 0600 in the home on first use, the same at the next start', async () => {
  const first = await webhookSecret(undefined, env);
  expect(first).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
  expect((await stat(webhookSecretPath(env))).mode & 0o777).toBe(0o600);
  expect((await readFile(webhookSecretPath(env), 'utf8')).trim()).toBe(first);
  expect(await webhookSecret(undefined, env)).toBe(first);
});

test('a configured secret wins and nothing is written', async () => {
  const configured = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
  expect(await webhookSecret(configured, env)).toBe(configured);
  await expect(stat(webhookSecretPath(env))).rejects.toMatchObject({ code: 'ENOENT' });
  await expect(webhookSecret('whsec_short', env)).rejects.toMatchObject({ code: 'E_USAGE' });
});

test('no llamactl home: a new secret each time, nothing created', async () => {
  const missing = { LLAMACTL_HOME: join(home, 'not-there') };
  const a = await webhookSecret(undefined, missing);
  expect(a).not.toBe(await webhookSecret(undefined, missing));
  await expect(stat(join(home, 'not-there'))).rejects.toMatchObject({ code: 'ENOENT' });
});

test('a kept secret others may read, a link, or a file without a secret is refused', async () => {
  const path = webhookSecretPath(env);
  await webhookSecret(undefined, env);
  await chmod(path, 0o644);
  await expect(webhookSecret(undefined, env)).rejects.toMatchObject({ code: 'E_USAGE', message: expect.stringMatching(/read by others/) });
  await rm(path);
  await writeFile(path, 'hunter2\n', { mode: 0o600 });
  await expect(webhookSecret(undefined, env)).rejects.toMatchObject({ code: 'E_USAGE', message: expect.stringMatching(/does not hold/) });
  await rm(path);
  await writeFile(join(home, 'elsewhere'), 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n', { mode: 0o600 });
  await symlink(join(home, 'elsewhere'), path);
  await expect(webhookSecret(undefined, env)).rejects.toMatchObject({ code: 'E_USAGE', message: expect.stringMatching(/not a regular file/) });
});
