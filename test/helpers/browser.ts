/**
 * Real headless Chromium for the status page tests: Debian's `chromium` (installed by .ci/run where missing) driven by
 * playwright-core. Where it cannot be found the browser tests are skipped with that reason.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = process.env.LLAMACTL_TEST_CHROMIUM ?? '/usr/bin/chromium';

/** Why the browser tests cannot run here, or undefined when they can. */
export const noBrowser = existsSync(CHROMIUM) ? undefined : `no Chromium at ${CHROMIUM}: install Debian's chromium package (.ci/run does) or set LLAMACTL_TEST_CHROMIUM`;

/** Flags that keep Chromium off the network (this machine has none) and quiet as root in a container. */
const ARGS = ['--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, chromiumSandbox: false, args: ARGS, timeout: 60_000 });
}
