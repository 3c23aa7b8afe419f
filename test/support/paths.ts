import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The repository root: the nearest folder above this file whose package.json is hark's. */
export function repoRoot(from: string = import.meta.dirname): string {
  let dir = from;
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && JSON.parse(readFileSync(pkg, 'utf8')).name === 'hark') return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no hark repository above ${from}`);
    dir = parent;
  }
}

/** The shared real-capture corpus (never copied into the repo), or undefined when it is absent. */
export function sharedPcapsDir(): string | undefined {
  const dir = process.env.HARK_SHARED_PCAPS ?? join(repoRoot(), '..', 'shared', 'pcaps');
  return existsSync(dir) ? dir : undefined;
}
