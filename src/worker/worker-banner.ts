/** What rpc-server prints before it listens (ggml-rpc.cpp ggml_backend_rpc_start_server). */
export interface WorkerBanner {
  /** The RPC protocol version, `7.0.0`, from "Starting RPC server v7.0.0". */
  version: string | undefined;
  /** "  CPU: AMD EPYC (24000 MiB, 23000 MiB free)". */
  devices: { name: string; description: string; totalMiB: number; freeMiB: number }[];
}

export function parseWorkerBanner(lines: readonly string[]): WorkerBanner {
  const banner: WorkerBanner = { version: undefined, devices: [] };
  for (const line of lines) {
    const version = /Starting RPC server v(\d+\.\d+\.\d+)/.exec(line);
    if (version) banner.version = version[1];
    const device = /^\s+([A-Za-z0-9_-]+): (.*) \((\d+) MiB, (\d+) MiB free\)\s*$/.exec(line);
    if (device && banner.devices.length < 16) {
      banner.devices.push({ name: device[1]!, description: device[2]!, totalMiB: Number(device[3]), freeMiB: Number(device[4]) });
    }
  }
  return banner;
}
