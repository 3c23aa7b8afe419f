#!/usr/bin/env node
// hark-agent: inventory a capture, simulate a site, or run the sensor daemon.
import { createReadStream, statSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { loadAgentConfig } from './agent/config-file.js';
import { chooseBackend, openCapture } from './agent/live.js';
import { runAgent } from './agent/run.js';
import { CaptureFormatError } from './capture/errors.js';
import type { FrameBatch } from './capture/frames.js';
import { formatTable } from './format.js';
import type { LiveCaptureEvent } from './live/index.js';
import { buildInventory, type InventoryResult, Pipeline } from './pipeline.js';
import { writeSitePcap } from './simulate/site.js';
import { AGENT_VERSION } from './version.js';

// A reader that stops early (`hark-agent inventory x.pcap | head`) closes the pipe: that is the
// reader's choice, not an error, so leave quietly as other Unix tools do.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a non-negative integer');
  return n;
}

const program = new Command('hark-agent')
  .description('Passive network device discovery: the hark sensor agent')
  .version(AGENT_VERSION);

/**
 * The capture file as a stream of chunks; on a terminal, with a progress line
 * on stderr for files big enough to wait for (stdout stays clean for --json).
 */
function withProgress(file: string): string | AsyncIterable<Buffer> {
  // "-": standard input, as tshark -r - and zeek -r - read it (`tcpdump -w - | hark-agent inventory -`).
  if (file === '-') return process.stdin;
  const size = statSync(file).size;
  if (!process.stderr.isTTY || size < 32 * 1024 * 1024) return file;
  return (async function* () {
    let read = 0;
    let last = 0;
    const started = Date.now();
    for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
      read += chunk.length;
      if (Date.now() - last > 200 || read === size) {
        last = Date.now();
        const pct = ((read / size) * 100).toFixed(0).padStart(3);
        const mbps = read / 1e6 / Math.max(0.001, (Date.now() - started) / 1000);
        process.stderr.write(
          `\r  reading ${file}: ${pct}% (${(read / 1e6).toFixed(0)} of ${(size / 1e6).toFixed(0)} MB, ${mbps.toFixed(0)} MB/s)`,
        );
      }
      yield chunk;
    }
    process.stderr.write('\n');
  })();
}

program
  .command('inventory')
  .description('Build a device inventory from a pcap or pcapng file, or live from an interface (--live)')
  .argument(
    '[capture]',
    'capture file, or - for standard input: pcap or pcapng, plain or gzip- or zstd-compressed (told from its content, not its name)',
  )
  .option('--json', 'print {"devices": DeviceRecord[], "stats": {...}} as JSON')
  .option(
    '--live <iface>',
    'capture live from this interface through libpcap, or tcpdump without the addon (never transmits)',
  )
  .option('--seconds <n>', 'with --live: stop after this many seconds (default: until Ctrl-C)', positiveInt)
  .option('--filter <bpf>', 'with --live: BPF filter expression')
  .action(
    async (
      capture: string | undefined,
      opts: { json?: boolean; live?: string; seconds?: number; filter?: string },
    ) => {
      try {
        if (!capture && !opts.live) throw new Error('give a capture file or --live <iface>');
        const result = opts.live
          ? await liveInventory(opts.live, opts)
          : await buildInventory(withProgress(capture!));
        if (opts.json) {
          process.stdout.write(
            `${JSON.stringify({ devices: result.devices, stats: result.stats }, null, 2)}\n`,
          );
        } else {
          process.stdout.write(formatTable(result.devices));
          const s = result.stats;
          process.stdout.write(
            `\n${result.devices.length} devices from ${s.packets} packets (${s.bytes} bytes, ${s.malformed} malformed, format ${result.format})\n`,
          );
        }
      } catch (error) {
        fail(error);
      }
    },
  );

async function liveInventory(
  iface: string,
  opts: { seconds?: number; filter?: string },
): Promise<InventoryResult> {
  const pipeline = new Pipeline();
  const { backend } = chooseBackend(process.env.HARK_CAPTURE_BACKEND);
  const options = {
    interface: iface,
    ...(opts.filter ? { filter: opts.filter } : {}),
    onFrames: (frames: FrameBatch) => pipeline.processBatch(frames),
    onEvent: (e: LiveCaptureEvent) => {
      if (e.kind === 'error') process.stderr.write(`${backend}: ${e.error.message}\n`);
      if (e.kind === 'restart') process.stderr.write(`${backend}: reopening in ${e.delayMs} ms\n`);
    },
  };
  const live = openCapture(backend, options);
  await live.start();
  process.stderr.write(
    `capturing on ${iface} through ${backend}${opts.seconds ? ` for ${opts.seconds} s` : ' (Ctrl-C to stop)'}\n`,
  );
  await new Promise<void>((resolve) => {
    const done = () => resolve();
    if (opts.seconds) setTimeout(done, opts.seconds * 1000);
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
  await live.stop();
  pipeline.flush();
  const l = live.stats;
  process.stderr.write(
    `${backend}: ${l.captured} captured, ${l.droppedByKernel} dropped by kernel, ${l.droppedByInterface} by interface, ${l.restarts} restarts\n`,
  );
  return { format: 'pcap', devices: pipeline.store.toRecords(), stats: pipeline.stats };
}

program
  .command('simulate')
  .description('Write a pcap of a synthetic site (demo and load tests; never decoder test truth)')
  .requiredOption('--devices <n>', 'number of devices', positiveInt)
  .requiredOption('--out <file>', 'output pcap path')
  .option('--seed <s>', 'PRNG seed (same seed, same bytes)', positiveInt, 1)
  .option('--duration <seconds>', 'simulated seconds of traffic', positiveInt, 300)
  .action(async (opts: { devices: number; out: string; seed: number; duration: number }) => {
    try {
      const frames = await writeSitePcap(opts.out, {
        devices: opts.devices,
        seed: opts.seed,
        durationSeconds: opts.duration,
      });
      process.stderr.write(`wrote ${frames} frames for ${opts.devices} devices to ${opts.out}\n`);
    } catch (error) {
      fail(error);
    }
  });

program
  .command('run')
  .description('Run the sensor daemon: live capture (or replay), inventory, report over MQTT')
  .requiredOption('--config <file>', 'agent configuration (YAML or JSON)')
  .action(async (opts: { config: string }) => {
    try {
      const config = await loadAgentConfig(opts.config);
      const agent = await runAgent(config);
      let stopping = false;
      const shutdown = (signal: string) => {
        if (stopping) return;
        stopping = true;
        process.stderr.write(`${signal}: shutting down\n`);
        agent.stop().then(
          () => process.exit(0),
          (error: unknown) => fail(error),
        );
      };
      process.on('SIGTERM', () => shutdown('SIGTERM'));
      process.on('SIGINT', () => shutdown('SIGINT'));
    } catch (error) {
      fail(error);
    }
  });

function fail(error: unknown): never {
  const message =
    error instanceof CaptureFormatError || error instanceof Error ? error.message : String(error);
  process.stderr.write(`hark-agent: ${message}\n`);
  process.exit(1);
}

await program.parseAsync(process.argv);
