/** `llamactl chat` as a child process with piped stdin, against the real engine and the tiny model. */
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatSession } from '../../src/client/chat-session.js';
import { startServer, type RunningServer } from '../../src/server/start-server.js';
import { CLI, runCli } from '../helpers/cli.js';
import { testFixtures } from '../helpers/engine.js';

let home: string;
let server: RunningServer;
let env: NodeJS.ProcessEnv;
const PARAMS = { max_tokens: 6, temperature: 0 };
const FLAGS = ['--max-tokens', '6', '--temperature', '0'];

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'llamactl-chat-'));
  env = { ...process.env, LLAMACTL_HOME: home };
  const { serverPath, ggufPath } = testFixtures();
  server = await startServer({ model: ggufPath, runtime: serverPath, ctxSize: 1024, parallel: 1, threads: 1, env });
});

afterAll(async () => {
  await server?.stop();
  await rm(home, { recursive: true, force: true });
});

describe('llamactl chat', () => {
  it('keeps history, and /reset, /system and /exit do what they say', async () => {
    // What the conversation must produce, turn by turn, computed through the library.
    const session = new ChatSession(server.client, { params: PARAMS });
    const answers: string[] = [];
    const say = async (text: string) => answers.push((await session.send(text)).choices[0]?.message.content ?? '');
    await say('Hello');
    await say('And then?');
    session.reset();
    await say('Hello');
    session.setSystem('Be brief.');
    await say('Hello');

    const input = 'Hello\nAnd then?\n/reset\nHello\n/system Be brief.\nHello\n/exit\nThis is never sent\n';
    const result = await runCli(['chat', server.url, ...FLAGS], { env, input, stdin: 'pipe' });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toBe(answers.join('\n'));
    expect(answers[1]).not.toBe(answers[0]); // the second turn saw the first
    expect(result.stderr).toContain('(conversation cleared)');
    expect(result.stderr).toContain('(system prompt set)');
  });

  it('with piped input, fails fast: nothing listening exits 9 before reading; a failed turn ends the chat with its status', async () => {
    const refused = await runCli(['chat', 'http://127.0.0.1:9'], { env, input: 'Hello\n', stdin: 'pipe' });
    expect(refused.exitCode).toBe(9);
    expect(refused.stderr).toMatch(/connection refused/i);
    // A question longer than the server's 1024-token context is refused by the engine (HTTP 400).
    const tooLong = `${'lorem ipsum dolor sit amet '.repeat(800)}\nHello\n`;
    const failed = await runCli(['chat', server.url, ...FLAGS], { env, input: tooLong, stdin: 'pipe' });
    expect(failed.exitCode).toBe(9);
    expect(failed.stderr).toMatch(/HTTP 400/);
    expect(failed.stdout.trim()).toBe(''); // the second question was not asked
  });

  it('ends at the end of its input', async () => {
    const result = await runCli(['chat', server.url, ...FLAGS], { env, input: 'Hello\n', stdin: 'pipe' });
    expect(result.exitCode).toBe(0);
    expect(result.stdout.length).toBeGreaterThan(0);
  });

  it('Ctrl-C cancels the answer being written and the chat goes on', async () => {
    const child = execa(process.execPath, [CLI, 'chat', server.url, '--max-tokens', '900', '--temperature', '0'], {
      env,
      reject: false,
      stdin: 'pipe',
      timeout: 60_000,
    });
    let stdout = '';
    let interrupted = false;
    child.stdout?.on('data', (data: Buffer) => {
      stdout += data.toString();
      if (!interrupted) {
        interrupted = true;
        child.kill('SIGINT');
      }
    });
    child.stdin?.write('Write a very long story\n');
    let stderr = '';
    child.stderr?.on('data', (data: Buffer) => {
      stderr += data.toString();
      if (stderr.includes('(cancelled)')) child.stdin?.end('/exit\n');
    });
    const result = await child;
    expect(result.exitCode, stderr).toBe(0);
    expect(stderr).toContain('(cancelled)');
    expect(stdout.length).toBeGreaterThan(0);
    // The slot was freed: the server is idle again.
    await expect.poll(async () => (await server.client.slots()).some((slot) => slot.is_processing), { timeout: 10_000 }).toBe(false);
  });

  // A real terminal: util-linux `script` gives the CLI a pseudo-terminal, so readline runs in terminal mode and
  // Ctrl-C arrives as a keypress (readline's SIGINT), not as a signal.
  it.skipIf(!existsSync('/usr/bin/script'))('on a terminal, Ctrl-C cancels the answer and the prompt comes back', async () => {
    const command = [process.execPath, CLI, 'chat', server.url, '--max-tokens', '900', '--temperature', '0']
      .map((part) => `'${part.replaceAll("'", "'\\''")}'`)
      .join(' ');
    const child = execa('/usr/bin/script', ['-qfec', command, '/dev/null'], { env, reject: false, stdin: 'pipe', timeout: 45_000 });
    let output = '';
    let state: 'connecting' | 'asked' | 'interrupted' | 'leaving' = 'connecting';
    let attempts = 0;
    child.stdout?.on('data', (data: Buffer) => {
      output += data.toString();
      if (state === 'connecting' && output.includes('>>> ')) {
        state = 'asked';
        child.stdin?.write('Hello\r');
      } else if (state === 'asked' && output.includes('Hello\r') && output.length > output.lastIndexOf('Hello\r') + 40) {
        // The question was entered (echoed with its Enter) and the answer is coming: interrupt it.
        state = 'interrupted';
        child.stdin?.write('\x03');
      } else if (state === 'interrupted' && output.includes('(cancelled)') && output.lastIndexOf('>>> ') > output.indexOf('(cancelled)')) {
        state = 'leaving';
        child.stdin?.write('/exit\r');
      } else if (state === 'interrupted' && output.endsWith('>>> ') && output.lastIndexOf('Commands:') > output.lastIndexOf('Hello\r') && attempts < 3) {
        // On a busy machine the whole answer came before the Ctrl-C (which then only printed the help): ask again.
        attempts++;
        output = '';
        state = 'asked';
        child.stdin?.write('Hello\r');
      }
    });
    const result = await child;
    expect(state, output.slice(-2000)).toBe('leaving');
    expect(result.exitCode, output.slice(-2000)).toBe(0);
  });
});
