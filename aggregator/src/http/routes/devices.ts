// The merged device inventory.
import type { FastifyInstance } from 'fastify';
import type { DeviceQuery } from '../../inventory/query.js';
import type { InventoryStore } from '../../inventory/store.js';
import { deviceListQuery, deviceListResponse, errorSchema } from '../schemas.js';

export function deviceRoutes(app: FastifyInstance, inventory: InventoryStore): void {
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
}
