// Fleet health: sensors and the sites they cover.
import type { FastifyInstance } from 'fastify';
import type { FleetRegistry, Health } from '../../fleet/registry.js';
import type { InventoryStore } from '../../inventory/store.js';
import { siteSchema } from '../schemas.js';

export function fleetRoutes(app: FastifyInstance, fleet: FleetRegistry, inventory: InventoryStore): void {
  app.get<{ Querystring: { site?: string } }>(
    '/api/v1/sensors',
    {
      schema: {
        summary: 'Sensors and their health',
        tags: ['fleet'],
        querystring: {
          type: 'object',
          properties: { site: { type: 'string' } },
          additionalProperties: false,
        },
        response: {
          200: { type: 'object', properties: { items: { type: 'array', items: { $ref: 'Sensor#' } } } },
        },
      },
    },
    async (request) => ({ items: fleet.list(request.query.site) }),
  );

  app.get(
    '/api/v1/sites',
    {
      schema: {
        summary: 'Sites, with device and sensor counts',
        tags: ['fleet'],
        response: { 200: { type: 'object', properties: { items: { type: 'array', items: siteSchema } } } },
      },
    },
    async () => {
      const summaries = inventory.siteSummaries();
      const sensors = fleet.list();
      // A site exists as soon as it has a sensor or a device.
      const names = new Set([...summaries.keys(), ...sensors.map((s) => s.site)]);
      const items = [...names].sort().map((site) => {
        const summary = summaries.get(site);
        const counts: Record<Health | 'total', number> = {
          total: 0,
          online: 0,
          stale: 0,
          offline: 0,
          unknown: 0,
        };
        for (const s of sensors) {
          if (s.site !== site) continue;
          counts.total += 1;
          counts[s.health] += 1;
        }
        return {
          site,
          devices: summary?.devices ?? 0,
          zones: [...(summary?.zones ?? [])].map(([zone, devices]) => ({ zone, devices })),
          sensors: counts,
        };
      });
      return { items };
    },
  );
}
