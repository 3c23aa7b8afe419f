// Probes and metrics. Liveness says the process serves HTTP; readiness says it
// is also receiving from the broker, so a load balancer (or Kubernetes) does
// not route users to an aggregator that shows a frozen inventory.
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';

export function healthRoutes(app: FastifyInstance, registry: Registry, isReady: () => boolean): void {
  const hide = { hide: true } as const;
  app.get('/healthz', { schema: hide }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: hide }, async (_request, reply) =>
    isReady() ? { status: 'ready' } : reply.code(503).send({ status: 'not ready: no broker subscription' }),
  );
  app.get('/metrics', { schema: hide }, async (_request, reply) => {
    reply.header('content-type', registry.contentType);
    return registry.metrics();
  });
}
