// Reads the agent configuration file (YAML or JSON; YAML is a superset) and
// validates it with the shared contract, so the operator that renders it and
// the agent that reads it cannot disagree on its shape.
//
// The operator renders JSON (agent.json), so JSON is tried first and the YAML
// parser is loaded only for a file that is not JSON: loading it costs the
// daemon ~5 MB of resident memory for the rest of its life.
import { readFile } from 'node:fs/promises';
import { type AgentConfig, parseAgentConfig } from '@hark/contracts/agent-config';

export async function loadAgentConfig(path: string): Promise<AgentConfig> {
  const text = await readFile(path, 'utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    const { parse } = await import('yaml');
    try {
      value = parse(text);
    } catch (error) {
      throw new Error(`${path}: not valid YAML/JSON: ${(error as Error).message}`);
    }
  }
  return parseAgentConfig(value);
}
