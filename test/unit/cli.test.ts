import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

describe('llamactl CLI entry', () => {
  it('prints help with the exit-code table and exits 0', async () => {
    const result = await runCli(['--help']);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain('Exit codes:');
  });

  it('exits 2 with one line on an unknown option', async () => {
    const result = await runCli(['--no-such-flag']);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain("unknown option '--no-such-flag'");
  });

  it('prints the version from package.json', async () => {
    const { version } = (await import('../../package.json', { with: { type: 'json' } })).default;
    const result = await runCli(['--version']);
    expect(result.stdout.trim()).toBe(version);
  });
});
