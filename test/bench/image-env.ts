// What an image's Dockerfile sets with ENV (KEY=value pairs), so a benchmark
// runs a process the way the image ships it, from the one place it is said.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../support/paths.js';

/** The ENV variables of `<repo>/<dockerfile>`; values are taken up to the next space, quotes removed. */
export function imageEnv(dockerfile: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of readFileSync(join(repoRoot(), dockerfile), 'utf8').split('\n')) {
    if (!line.startsWith('ENV ')) continue;
    for (const pair of line.slice(4).trim().split(/\s+/)) {
      const eq = pair.indexOf('=');
      if (eq > 0) env[pair.slice(0, eq)] = pair.slice(eq + 1).replace(/^"|"$/g, '');
    }
  }
  return env;
}
