// The web UI: one static page and a small ES module, no build step. Files are
// read once at start-up; the CSP keeps the page to its own origin.
import { readFile } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';

/** aggregator/ui, from dist/http/routes (built) or src/http/routes (tests). */
export const UI_DIR = new URL('../../../ui/', import.meta.url);

const FILES = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/ui/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/ui/styles.css': { file: 'styles.css', type: 'text/css; charset=utf-8' },
} as const;

const CSP =
  "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

export async function uiRoutes(app: FastifyInstance, dir: URL = UI_DIR): Promise<void> {
  for (const [path, { file, type }] of Object.entries(FILES)) {
    const body = await readFile(new URL(file, dir));
    app.get(path, { schema: { hide: true } }, async (_request, reply) =>
      reply
        .header('content-type', type)
        .header('content-security-policy', CSP)
        .header('x-content-type-options', 'nosniff')
        .header('cache-control', 'no-cache')
        .send(body),
    );
  }
}
