import type { Options } from 'cli-progress';
import type { PullEvent } from '../download/events.js';
import { SpeedMeter } from '../download/speed-meter.js';
import { colorEnabled, dim, green, yellow } from './color.js';
import { clause, formatBytes, formatDuration, printJson, sentences } from './output.js';

export type ProgressMode = 'bars' | 'lines' | 'json' | 'quiet';

export interface ProgressRenderer {
  onProgress: (event: PullEvent) => void;
  /** Stops bars / timers; call in `finally`. */
  stop: () => void;
}

/** Picks the renderer: NDJSON with --json, nothing with --quiet, bars on a TTY, periodic lines otherwise. */
export function progressMode(flags: { json?: boolean | undefined; quiet?: boolean | undefined }, stream: NodeJS.WriteStream = process.stderr): ProgressMode {
  if (flags.json) return 'json';
  if (flags.quiet) return 'quiet';
  return stream.isTTY ? 'bars' : 'lines';
}

const eta = (left: number, speed: number) => (speed > 0 ? formatDuration((left / speed) * 1000) : '?');
const short = (name: string) => name.slice(name.lastIndexOf('/') + 1);
/** Bar labels: shard names shortened to what differs (`…cat2.llamafile`), at most 24 columns. */
const label = (name: string) => {
  const base = short(name);
  return base.length <= 24 ? base.padEnd(24) : `…${base.slice(-23)}`;
};

/** One line for a RAM check that did not come out `ok`. */
function fitWarning(event: Extract<PullEvent, { type: 'fit' }>, paint = (text: string) => text): string {
  return `${paint('warning:')} ${sentences(event.message, event.hint)}`;
}

/** `shard: what went wrong; retrying` for a retry or a re-fetch. */
function againLine(event: Extract<PullEvent, { type: 'retry' | 'refetch' }>): string {
  return `${short(event.shard)}: ${event.type === 'retry' ? `${clause(event.error)}; retrying` : `${clause(event.reason)}; downloading it again`}`;
}

export async function createProgressRenderer(mode: ProgressMode, label = 'pull'): Promise<ProgressRenderer> {
  if (mode === 'quiet') return { onProgress: () => {}, stop: () => {} };
  if (mode === 'json') {
    let last = 0;
    return {
      onProgress: (event) => {
        // Progress at most twice a second; every other event as it happens.
        if (event.type === 'progress' && Date.now() - last < 500) return;
        if (event.type === 'progress') last = Date.now();
        printJson(event);
      },
      stop: () => {},
    };
  }
  if (mode === 'lines') return linesRenderer(label);
  return barsRenderer();
}

function linesRenderer(label: string): ProgressRenderer {
  const say = (line: string) => process.stderr.write(`${line}\n`);
  let last = 0;
  return {
    onProgress: (event) => {
      switch (event.type) {
        case 'resolved':
          say(`${label}: ${event.repo}@${event.commit.slice(0, 10)} → ${event.path} (${formatBytes(event.size)}, ${event.shards.length} shard${event.shards.length === 1 ? '' : 's'})`);
          break;
        case 'start':
          if (event.resumed) say(`${label}: resuming, ${formatBytes(event.done)} already on disk`);
          break;
        case 'progress':
          if (Date.now() - last < 3000) return;
          last = Date.now();
          say(
            `${label}: ${formatBytes(event.done)} / ${formatBytes(event.total)} (${Math.floor((event.done / Math.max(1, event.total)) * 100)}%), ` +
              `${formatBytes(event.speed)}/s, ETA ${eta(event.total - event.done, event.speed)}`,
          );
          break;
        case 'shard-verified':
          say(`${label}: ${short(event.shard)} verified (sha256 ${event.sha256.slice(0, 12)}…)`);
          break;
        case 'retry':
        case 'refetch':
          say(`${label}: ${againLine(event)}`);
          break;
        case 'fit':
          if (event.level !== 'ok') say(fitWarning(event));
          break;
        case 'done':
          break;
      }
    },
    stop: () => {},
  };
}

async function barsRenderer(): Promise<ProgressRenderer> {
  const { MultiBar, Presets } = (await import('cli-progress')).default;
  // cli-progress cuts its last frame at the terminal width counting escape codes as characters: colour only the
  // live frames, and draw the last one plain.
  let color = colorEnabled(process.stderr);
  const bars = new MultiBar(
    {
      stream: process.stderr,
      formatBar: (progress, options) => bar(progress, options, color),
      hideCursor: true,
      clearOnComplete: false,
      autopadding: true,
      format: '{label} {bar} {percentage}% {have}/{want} {speed}/s ETA {left}',
      barsize: 16,
    },
    Presets.shades_classic,
  );
  const total = bars.create(1, 0, { label: label('total'), have: '0 B', want: '?', speed: '0 B', left: '?' });
  const shardBars: ReturnType<typeof bars.create>[] = [];
  const speeds = new Map<string, SpeedMeter>();
  return {
    onProgress: (event) => {
      if (event.type === 'resolved' && event.shards.length > 1) {
        for (const shard of event.shards) shardBars.push(bars.create(shard.size, 0, { label: label(shard.name), have: '0 B', want: formatBytes(shard.size), speed: '0 B', left: '?' }));
      } else if (event.type === 'progress') {
        total.setTotal(event.total);
        total.update(event.done, { label: label('total'), have: formatBytes(event.done), want: formatBytes(event.total), speed: formatBytes(event.speed), left: event.done >= event.total ? 'done' : eta(event.total - event.done, event.speed) });
        event.shards.forEach((shard, i) => {
          let meter = speeds.get(shard.name);
          if (!meter) speeds.set(shard.name, (meter = new SpeedMeter()));
          const speed = meter.rate(shard.done);
          shardBars[i]?.update(Math.min(shard.done, shard.size), { label: label(shard.name), have: formatBytes(shard.done), want: formatBytes(shard.size), speed: formatBytes(speed), left: shard.done >= shard.size ? 'done' : eta(shard.size - shard.done, speed) });
        });
      } else if (event.type === 'fit') {
        if (event.level !== 'ok') bars.log(`${fitWarning(event, color ? yellow : undefined)}\n`);
      } else if (event.type === 'retry' || event.type === 'refetch') {
        bars.log(`${againLine(event)}\n`);
      }
    },
    stop: () => {
      color = false;
      bars.stop();
    },
  };
}

/** cli-progress' own bar; with colour, its done part green and the rest dim. */
function bar(progress: number, options: Options, color: boolean): string {
  const size = options.barsize ?? 40;
  const done = Math.round(Math.min(1, Math.max(0, progress)) * size);
  const complete = (options.barCompleteString ?? '').slice(0, done);
  const incomplete = (options.barIncompleteString ?? '').slice(0, size - done);
  return color ? `${green(complete)}${options.barGlue ?? ''}${dim(incomplete)}` : `${complete}${options.barGlue ?? ''}${incomplete}`;
}
