import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generatedBytes } from '../../src/demo/local-hub-content.js';
import { FaultHub, type FaultHubOptions, type FaultRepoSpec } from './fault-hub.js';

export const REPO = 'Mozilla/Test-Model-llamafile';
const MB = 1_000_000;

/** A repo like Mozilla's split ones: a 3-shard Q2_K set (cat0…cat2.llamafile), a Q4_0 set in the other naming order,
 * and a small single llamafile, plus a README. Sizes are odd so shard boundaries never align with chunks. */
export function fixtureRepo(extra: Partial<FaultRepoSpec> = {}): FaultRepoSpec {
  return {
    files: {
      'README.md': '# test model\n',
      'Test.Q2_K.cat0.llamafile': { size: 3 * MB + 17, seed: 10 },
      'Test.Q2_K.cat1.llamafile': { size: 2 * MB + 5, seed: 11 },
      'Test.Q2_K.cat2.llamafile': { size: MB + 3, seed: 12 },
      'Test.Q4_0.llamafile.cat0': { size: 1 * MB + 1, seed: 20 },
      'Test.Q4_0.llamafile.cat1': { size: 1 * MB + 2, seed: 21 },
      'Test.F16.llamafile': { size: 200_000, seed: 30 },
    },
    ...extra,
  };
}

/** The bytes the Q2_K set joins to, and their sha256. */
export function expectedQ2K(): { bytes: Buffer; sha256: string } {
  const bytes = Buffer.concat([
    generatedBytes(10, 0, 3 * MB + 17),
    generatedBytes(11, 0, 2 * MB + 5),
    generatedBytes(12, 0, MB + 3),
  ]);
  return { bytes, sha256: sha256(bytes) };
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export async function fileSha256(path: string): Promise<string> {
  return sha256(await readFile(path));
}

export interface TestHub {
  hub: FaultHub;
  /** A temp LLAMACTL_HOME. */
  home: string;
  /** Environment for runCli: LLAMACTL_HOME, HF_ENDPOINT, no HF_TOKEN. */
  env: NodeJS.ProcessEnv;
  close: () => Promise<void>;
}

export async function startTestHub(options: Partial<FaultHubOptions> = {}): Promise<TestHub> {
  const hub = await FaultHub.start({ repos: { [REPO]: fixtureRepo() }, ...options });
  const home = await mkdtemp(join(tmpdir(), 'llamactl-pull-'));
  return {
    hub,
    home,
    env: { LLAMACTL_HOME: home, HF_ENDPOINT: hub.endpoint, HF_TOKEN: '', NO_COLOR: '1' },
    close: async () => {
      await hub.close();
      await rm(home, { recursive: true, force: true });
    },
  };
}

/** CDN data requests (GETs of bytes) the hub has answered. */
export function dataRequests(hub: FaultHub) {
  return hub.requests.filter((r) => r.origin === 'cdn' && r.method === 'GET');
}
