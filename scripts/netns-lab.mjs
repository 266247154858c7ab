// Three "hosts" on one machine for the RPC tests and bench: a head and two workers in their own network namespaces,
// the head joined to each worker by a veth pair with `tc netem` delay (one-way, both directions: RTT = 2 × delay)
// and a rate cap. Addresses are from 192.0.2.0/24 (TEST-NET-1) and exist inside the namespaces only; nothing is
// routed anywhere else. Needs root and iproute2; `labAvailable()` says why not where it cannot run.
import { execa } from 'execa';

const run = (args) => execa('ip', args, { timeout: 10_000 });

/** What a lab can do here: `{ netns, netem }`, each undefined when available, else the reason it is not. */
export async function labAvailable() {
  if (process.platform !== 'linux') return { netns: 'network namespaces are Linux-only', netem: 'Linux-only' };
  if (process.getuid?.() !== 0) return { netns: 'needs root (ip netns)', netem: 'needs root' };
  const probe = `lcrpc-p-${process.pid}`;
  try {
    await run(['netns', 'add', probe]);
  } catch (error) {
    const reason = `ip netns add failed: ${error.shortMessage ?? error.message}`;
    return { netns: reason, netem: reason };
  }
  try {
    try {
      await run(['-n', probe, 'link', 'add', 'lcp0', 'type', 'veth', 'peer', 'name', 'lcp1']);
    } catch (error) {
      const reason = `veth pairs unavailable: ${(error.stderr || error.message).trim()}`;
      return { netns: reason, netem: reason };
    }
    try {
      await execa('ip', ['netns', 'exec', probe, 'tc', 'qdisc', 'add', 'dev', 'lcp0', 'root', 'netem', 'delay', '1ms'], { timeout: 10_000 });
      return { netns: undefined, netem: undefined };
    } catch (error) {
      return { netns: undefined, netem: `tc netem unavailable (the kernel has no sch_netem): ${(error.stderr || error.message).trim()}` };
    }
  } finally {
    await run(['netns', 'del', probe]).catch(() => {});
  }
}

/**
 * Creates the lab. `delayMs`: one-way delay on every link; `rateMbit`: bandwidth cap per direction (bounds the traffic
 * a test can make). Resolves with the namespaces, the addresses, and `destroy()` (removes the namespaces, which
 * removes the veths; call it after the processes inside were stopped).
 */
export async function createLab({ delayMs = 0, rateMbit = 1000 } = {}) {
  const id = String(process.pid % 100_000);
  const ns = { head: `lcrpc-h-${id}`, a: `lcrpc-a-${id}`, b: `lcrpc-b-${id}` };
  const links = [
    { worker: 'a', headIf: `lch${id}a`, workerIf: `lcw${id}a`, headIp: '192.0.2.1', workerIp: '192.0.2.2', prefix: 29 },
    { worker: 'b', headIf: `lch${id}b`, workerIf: `lcw${id}b`, headIp: '192.0.2.9', workerIp: '192.0.2.10', prefix: 29 },
  ];
  const destroy = async () => {
    for (const name of Object.values(ns)) await run(['netns', 'del', name]).catch(() => {});
  };
  try {
    for (const name of Object.values(ns)) {
      await run(['netns', 'add', name]);
      await run(['-n', name, 'link', 'set', 'lo', 'up']);
    }
    for (const link of links) {
      await run(['-n', ns.head, 'link', 'add', link.headIf, 'type', 'veth', 'peer', 'name', link.workerIf, 'netns', ns[link.worker]]);
      for (const [name, dev, ip] of [[ns.head, link.headIf, link.headIp], [ns[link.worker], link.workerIf, link.workerIp]]) {
        await run(['-n', name, 'addr', 'add', `${ip}/${link.prefix}`, 'dev', dev]);
        await run(['-n', name, 'link', 'set', dev, 'up']);
        // Without netem (delay 0) the links are plain veths: loopback-fast, separate stacks and addresses.
        if (delayMs > 0) {
          await execa('ip', ['netns', 'exec', name, 'tc', 'qdisc', 'add', 'dev', dev, 'root', 'netem',
            'delay', `${delayMs}ms`, 'rate', `${rateMbit}mbit`, 'limit', '10000'], { timeout: 10_000 });
        }
      }
    }
  } catch (error) {
    await destroy();
    throw error;
  }
  return {
    ns,
    delayMs,
    workers: links.map((link) => ({ ns: ns[link.worker], host: link.workerIp })),
    /** An address inside the head's first subnet that no namespace holds. */
    nobody: '192.0.2.3',
    /** `ip netns exec NS file args…` (argv, never a shell string). */
    exec: (name, file, args, options = {}) => execa('ip', ['netns', 'exec', name, file, ...args], options),
    destroy,
  };
}
