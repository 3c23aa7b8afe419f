// The merged device inventory.
import type { FastifyInstance } from 'fastify';
import type { HistoryReader } from '../../durability/history-reader.js';
import type { DeviceQuery } from '../../inventory/query.js';
import type { InventoryStore } from '../../inventory/store.js';
import {
  deviceHistoryQuery,
  deviceHistoryResponse,
  deviceListQuery,
  deviceListResponse,
  errorSchema,
} from '../schemas.js';

export function deviceRoutes(
  app: FastifyInstance,
  inventory: InventoryStore,
  history: HistoryReader | undefined,
): void {
  app.get<{ Querystring: DeviceQuery }>(
    '/api/v1/devices',
    {
      schema: {
        summary: 'List and search devices',
        tags: ['devices'],
        querystring: deviceListQuery,
        response: { 200: deviceListResponse, 400: errorSchema },
      },
    },
    async (request) => inventory.query(request.query),
  );

  app.get<{ Params: { id: string } }>(
    '/api/v1/devices/:id',
    {
      schema: {
        summary: 'One device',
        tags: ['devices'],
        params: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
        response: { 200: { $ref: 'Device#' }, 404: errorSchema },
      },
    },
    async (request, reply) => {
      const device = inventory.get(request.params.id);
      if (!device)
        return reply.code(404).send({ statusCode: 404, error: 'Not Found', message: 'no such device' });
      return device;
    },
  );

  app.get<{ Params: { id: string }; Querystring: { limit: number; offset: number } }>(
    '/api/v1/devices/:id/history',
    {
      schema: {
        summary: "One device's history: every record a sensor reported for it, newest first",
        description:
          'Read from the Parquet observation log, which holds compacted generations: it is at most one compaction interval (--compact-interval, 60 s) behind the device itself. Empty without a data directory.',
        tags: ['devices'],
        params: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
        querystring: deviceHistoryQuery,
        response: { 200: deviceHistoryResponse, 404: errorSchema },
      },
    },
    async (request, reply) => {
      const device = inventory.get(request.params.id);
      if (!device)
        return reply.code(404).send({ statusCode: 404, error: 'Not Found', message: 'no such device' });
      const items = history
        ? await history.deviceHistory({
            site: device.site,
            zone: device.zone,
            deviceId: device.deviceId,
            limit: request.query.limit,
            offset: request.query.offset,
          })
        : [];
      return { items };
    },
  );
}
