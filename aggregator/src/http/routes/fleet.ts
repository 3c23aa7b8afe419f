// Fleet health: sensors and the sites they cover. On a sharded aggregator
// each replica holds its own sites' sensors; the lists are gathered from every
// shard unless `scope=shard` asks for this replica's alone.
import type { FastifyInstance } from 'fastify';
import type { FleetRegistry, Health } from '../../fleet/registry.js';
import type { InventoryStore } from '../../inventory/store.js';
import { shardedList } from '../../scale/fan-out.js';
import type { ShardPeers } from '../../scale/peers.js';
import { scopeParameter, scopeQuery, siteSchema, unavailableShards } from '../schemas.js';

export function fleetRoutes(
  app: FastifyInstance,
  fleet: FleetRegistry,
  inventory: InventoryStore,
  peers: ShardPeers | undefined,
): void {
  app.get<{ Querystring: { site?: string; scope?: 'shard' } }>(
    '/api/v1/sensors',
    {
      schema: {
        summary: 'Sensors and their health',
        tags: ['fleet'],
        querystring: {
          type: 'object',
          properties: { site: { type: 'string' }, ...scopeParameter },
          additionalProperties: false,
        },
        response: {
          200: {
            type: 'object',
            properties: { items: { type: 'array', items: { $ref: 'Sensor#' } }, ...unavailableShards },
          },
        },
      },
    },
    async (request) => {
      const { site, scope } = request.query;
      const mine = fleet.list(site);
      if (!peers || scope === 'shard') return { items: mine };
      return shardedList(peers, '/api/v1/sensors', { site }, mine, (s) => s.id);
    },
  );

  app.get<{ Querystring: { scope?: 'shard' } }>(
    '/api/v1/sites',
    {
      schema: {
        summary: 'Sites, with device and sensor counts',
        tags: ['fleet'],
        querystring: scopeQuery,
        response: {
          200: {
            type: 'object',
            properties: { items: { type: 'array', items: siteSchema }, ...unavailableShards },
          },
        },
      },
    },
    async (request) => {
      const mine = siteItems();
      if (!peers || request.query.scope === 'shard') return { items: mine };
      return shardedList(peers, '/api/v1/sites', {}, mine, (s) => s.site);
    },
  );

  function siteItems() {
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
    return items;
  }
}
