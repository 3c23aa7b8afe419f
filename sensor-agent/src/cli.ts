#!/usr/bin/env node
// hark-agent: inventory a capture, simulate a site, or run the sensor daemon.
import { Command, InvalidArgumentError } from 'commander';
import { loadAgentConfig } from './agent/config-file.js';
import { runAgent } from './agent/run.js';
import { CaptureFormatError } from './capture/errors.js';
import { formatTable } from './format.js';
import { buildInventory } from './pipeline.js';
import { writeSitePcap } from './simulate/site.js';
import { AGENT_VERSION } from './version.js';

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a non-negative integer');
  return n;
}

const program = new Command('hark-agent')
  .description('Passive network device discovery: the hark sensor agent')
  .version(AGENT_VERSION);

program
  .command('inventory')
  .description('Build a device inventory from a pcap or pcapng file')
  .argument('<capture>', 'capture file (format detected from its content, not its name)')
  .option('--json', 'print {"devices": DeviceRecord[], "stats": {...}} as JSON')
  .action(async (capture: string, opts: { json?: boolean }) => {
    try {
      const result = await buildInventory(capture);
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
  });

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
  .description('Run the sensor daemon: capture (replay for now), inventory, report over MQTT')
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
