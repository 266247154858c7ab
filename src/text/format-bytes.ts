/** Text for people, shared by the library's messages and the CLI: sizes now, quoting of untrusted strings next. */

/** Formats a byte count the way the hub shows sizes (decimal units): 512 B, 9.13 MB, 2.15 GB. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : value < 10 ? 2 : 1)} ${units[unit]}`;
}

/** Formats a memory size in binary units, as the fit check and the gateway's budget messages do: 1.50 GiB, 300.0 MiB. */
export function formatMemorySize(bytes: number): string {
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  return `${Math.round(bytes / 1024)} KiB`;
}

/** GiB with one decimal, as the fit check and `inspect` show memory: 23.5 GiB. */
export function formatGiB(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
}
