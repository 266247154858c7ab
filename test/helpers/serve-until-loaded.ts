import { execa } from 'execa';

export function fixture(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: test/helpers/global-setup.ts did not run.`);
  return value;
}

/**
 * Runs an engine (llama-server, or the stand-in llamafile that execs it) with `--port 0` and waits until its log
 * says the model is loaded and which address it listens on. The caller stops it with `stop()`.
 */
export async function serveUntilLoaded(
  file: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ url: string; pid: number; stop: () => Promise<void> }> {
  const server = execa(file, args, { all: true, reject: false, env });
  const stop = async () => {
    server.kill('SIGTERM');
    await server;
  };
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let log = '';
      server.all.on('data', (chunk: Buffer) => {
        log += chunk.toString();
        const match = /listening on (http:\/\/[\d.]+:\d+)/.exec(log);
        if (match && /model loaded/.test(log)) resolve(match[1]!);
      });
      void server.then(() => reject(new Error(`${file} exited:\n${log}`)));
    });
    return { url, pid: server.pid!, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
