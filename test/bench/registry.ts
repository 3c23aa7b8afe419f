import { agentThroughput } from './agent-throughput.js';
import { certificateIssuance } from './certificates.js';
import { liveCapture } from './live-capture.js';
import { mqttThroughput } from './mqtt-throughput.js';
import { operatorScale } from './operator-scale.js';

export interface Benchmark {
  name: string;
  description: string;
  /** Returns the lines to print: figures, peers and ratios. */
  run(): Promise<string[]>;
}

export const benchmarks: Benchmark[] = [
  certificateIssuance,
  operatorScale,
  agentThroughput,
  liveCapture,
  mqttThroughput,
];
