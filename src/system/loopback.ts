/** 127.0.0.0/8, ::1 and localhost: the binds that keep a server (an engine, a worker, the gateway) on this machine. */
export function isLoopback(host: string): boolean {
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) || host === '::1' || host.toLowerCase() === 'localhost';
}
