// The agent's configuration file: the operator renders it into a ConfigMap
// that the DaemonSet mounts, and `hark-agent run --config` reads it.
import { type Static, Type } from '@sinclair/typebox';
import './formats.js';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import { CAPTURE_BACKENDS } from './sensor/schema.js';

export const AgentConfig = Type.Object({
  site: Type.String({ minLength: 1 }),
  sensor: Type.String({ minLength: 1 }),
  /** Usually left out of the file and taken from $NODE_NAME (the downward API). */
  node: Type.Optional(Type.String({ minLength: 1 })),
  zone: Type.Optional(Type.String()),
  capture: Type.Object({
    interfaces: Type.Array(Type.String(), { default: ['auto'] }),
    bpfFilter: Type.Optional(Type.String()),
    protocols: Type.Optional(Type.Array(Type.String())),
    /** auto (libpcap when the addon loads, else tcpdump), libpcap or tcpdump; see the Sensor API. */
    backend: Type.Optional(Type.Union(CAPTURE_BACKENDS.map((b) => Type.Literal(b)))),
    /** Kernel capture buffer per interface, MiB; see the Sensor API. Unset: 32. */
    bufferMiB: Type.Optional(Type.Integer({ minimum: 2, maximum: 1024 })),
    /** Replay a capture file instead of listening live (the demo, tests, forensics). */
    replay: Type.Optional(
      Type.Object({
        file: Type.String({ minLength: 1 }),
        pace: Type.Union([Type.Literal('fast'), Type.Literal('realtime')], { default: 'fast' }),
        loop: Type.Boolean({ default: false }),
      }),
    ),
  }),
  reporting: Type.Object({
    brokerUrl: Type.String({ pattern: '^mqtts?://' }),
    topicPrefix: Type.String({ default: 'hark' }),
    snapshotIntervalSeconds: Type.Number({ minimum: 1, default: 300 }),
    heartbeatIntervalSeconds: Type.Number({ minimum: 1, default: 30 }),
  }),
  tls: Type.Object({
    caFile: Type.String(),
    certFile: Type.String(),
    keyFile: Type.String(),
  }),
  spoolDir: Type.String({ default: '/var/lib/hark/spool' }),
  http: Type.Object({ port: Type.Integer({ minimum: 0, maximum: 65535, default: 9464 }) }, { default: {} }),
});

export type AgentConfig = Static<typeof AgentConfig>;
const checker = TypeCompiler.Compile(AgentConfig);

/** Validates a parsed configuration file and applies defaults; throws with every problem listed. */
export function parseAgentConfig(input: unknown): AgentConfig {
  const value = Value.Default(AgentConfig, structuredClone(input));
  if (checker.Check(value)) return value;
  const problems = [...checker.Errors(value)].map((e) => `${e.path || '/'}: ${e.message}`);
  throw new Error(`invalid agent configuration:\n  ${problems.join('\n  ')}`);
}
