// What an image's Dockerfile sets with ENV (KEY=value pairs), so a benchmark
// runs a process the way the image ships it, from the one place it is said.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../support/paths.js';

/** The ENV variables of `<repo>/<dockerfile>`: KEY=value (up to the next space) or KEY="value" (spaces kept). */
export function imageEnv(dockerfile: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of readFileSync(join(repoRoot(), dockerfile), 'utf8').split('\n')) {
    if (!line.startsWith('ENV ')) continue;
    for (const m of line.slice(4).matchAll(/([A-Za-z_][A-Za-z0-9_]*)=(?:"([^"]*)"|(\S*))/g))
      env[m[1]!] = m[2] ?? m[3] ?? '';
  }
  return env;
}

/**
 * The node flags the image runs its process with: its NODE_OPTIONS, then the
 * flags its ENTRYPOINT passes node before the script (V8 refuses some flags
 * in NODE_OPTIONS).
 */
export function imageNodeFlags(dockerfile: string): string[] {
  const flags = (imageEnv(dockerfile).NODE_OPTIONS ?? '').split(/\s+/).filter(Boolean);
  for (const line of readFileSync(join(repoRoot(), dockerfile), 'utf8').split('\n')) {
    if (!line.startsWith('ENTRYPOINT ')) continue;
    const command = JSON.parse(line.slice('ENTRYPOINT '.length)) as string[];
    if (command[0] !== 'node') continue;
    for (const arg of command.slice(1)) {
      if (!arg.startsWith('--')) break;
      flags.push(arg);
    }
  }
  return flags;
}
