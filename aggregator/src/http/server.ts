// The HTTP side: JSON API under /api/v1, probes, metrics and the web UI.
import swagger from '@fastify/swagger';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Registry } from 'prom-client';
import type { Acknowledgement, Alert, AlertStore } from '../alerts/store.js';
import type { HistoryReader } from '../durability/history-reader.js';
import type { FleetRegistry } from '../fleet/registry.js';
import type { InventoryStore } from '../inventory/store.js';
import type { Logger } from '../log.js';
import type { ShardPeers } from '../scale/peers.js';
import { type ApiAccess, READ } from './access.js';
import { alertRoutes } from './routes/alerts.js';
import { deviceRoutes } from './routes/devices.js';
import { fleetRoutes } from './routes/fleet.js';
import { healthRoutes } from './routes/health.js';
import { uiRoutes } from './routes/ui.js';
import { alertSchema, deviceSchema, sensorSchema } from './schemas.js';

export interface HttpServerOptions {
  inventory: InventoryStore;
  /** Reads devices' histories from the Parquet log; undefined without a data directory. */
  history?: HistoryReader | undefined;
  fleet: FleetRegistry;
  alerts: AlertStore;
  /** Acknowledges an alert held here, durably (ingest/handler.ts); undefined when not held. */
  acknowledgeAlert: (id: string, acknowledgement: Acknowledgement) => Promise<Alert | undefined>;
  registry: Registry;
  isReady: () => boolean;
  logger: Logger;
  version: string;
  /** A sharded aggregator's replicas: reads are answered for every shard (scale/peers.ts). */
  peers?: ShardPeers | undefined;
  /** Who may read /api/v1 (its OpenAPI document aside); undefined: anyone who reaches the port. */
  access?: ApiAccess | undefined;
}

export async function buildHttpServer(options: HttpServerOptions): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    loggerInstance: options.logger.child({ module: 'http' }) as FastifyBaseLogger,
    // The UI polls; per-request lines would drown the log. Errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    // Fleet-wide queries are cheap; a body never carries more than a query.
    bodyLimit: 64 * 1024,
  });
  const access = options.access;
  if (access)
    // Probes, metrics, the UI's files and the API's schema stay open; every read of data is checked.
    // Judged by the route that matched, not the raw URL, so no spelling of a path slips past.
    app.addHook('onRequest', async (request, reply) => {
      const route = request.routeOptions.url;
      if (!route?.startsWith('/api/v1/') || route === '/api/v1/openapi.json') return;
      const permission = request.routeOptions.config.permission ?? READ;
      const verdict = await access.check(request.headers.authorization, permission);
      if (verdict.allowed) {
        request.apiUser = verdict.user;
        return;
      }
      const error = { 401: 'Unauthorized', 403: 'Forbidden', 503: 'Service Unavailable' }[verdict.status];
      if (verdict.status === 401) reply.header('www-authenticate', 'Bearer realm="hark"');
      return reply.code(verdict.status).send({ statusCode: verdict.status, error, message: verdict.message });
    });
  app.decorateRequest('apiUser', undefined);
  app.addSchema(deviceSchema);
  app.addSchema(sensorSchema);
  app.addSchema(alertSchema);
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'hark aggregator',
        version: options.version,
        description: 'Merged device inventory, alerts, and sensor fleet health',
      },
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
  });

  deviceRoutes(app, options.inventory, options.history, options.peers);
  fleetRoutes(app, options.fleet, options.inventory, options.peers);
  alertRoutes(app, options.alerts, options.acknowledgeAlert, options.peers);
  healthRoutes(app, options.registry, options.isReady);
  await uiRoutes(app);
  app.get('/api/v1/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  return app;
}
