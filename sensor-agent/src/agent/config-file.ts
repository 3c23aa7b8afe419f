// Reads the agent configuration file (YAML or JSON; YAML is a superset) and
// validates it with the shared contract, so the operator that renders it and
// the agent that reads it cannot disagree on its shape.
import { readFile } from 'node:fs/promises';
import { type AgentConfig, parseAgentConfig } from '@hark/contracts/agent-config';
import { parse } from 'yaml';

export async function loadAgentConfig(path: string): Promise<AgentConfig> {
  const text = await readFile(path, 'utf8');
  let value: unknown;
  try {
    value = parse(text);
  } catch (error) {
    throw new Error(`${path}: not valid YAML/JSON: ${(error as Error).message}`);
  }
  return parseAgentConfig(value);
}
