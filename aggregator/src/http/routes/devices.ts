// The merged device inventory. On a sharded aggregator (scale/peers.ts) a
// list is merged from every shard, and one device is asked of the replica
// that owns its site; `scope=shard` answers from this replica alone.
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { HistoryReader } from '../../durability/history-reader.js';
import type { DeviceQuery } from '../../inventory/query.js';
import type { InventoryStore } from '../../inventory/store.js';
import { ShardedQueryError, shardedDevices } from '../../scale/fan-out.js';
import type { ShardPeers } from '../../scale/peers.js';
import {
  deviceHistoryQuery,
  deviceHistoryResponse,
  deviceListQuery,
  deviceListResponse,
  errorSchema,
  scopeQuery,
} from '../schemas.js';

type Scoped = { scope?: 'shard' };

export function deviceRoutes(
  app: FastifyInstance,
  inventory: InventoryStore,
  history: HistoryReader | undefined,
  peers: ShardPeers | undefined,
): void {
  /** The peers to ask, unless this request is a peer's (scope=shard) or there are none. */
  const fanOut = (query: Scoped) => (query.scope === 'shard' ? undefined : peers);

  app.get<{ Querystring: DeviceQuery & Scoped }>(
    '/api/v1/devices',
    {
      schema: {
        summary: 'List and search devices',
        tags: ['devices'],
        querystring: deviceListQuery,
        response: { 200: deviceListResponse, 400: errorSchema },
      },
    },
    async (request, reply) => {
      const { scope: _scope, ...query } = request.query;
      const sharded = fanOut(request.query);
      if (!sharded) return inventory.query(query);
      try {
        return await shardedDevices(sharded, query, (q, maxLimit) => inventory.query(q, maxLimit));
      } catch (err) {
        if (!(err instanceof ShardedQueryError)) throw err;
        return reply.code(400).send({ statusCode: 400, error: 'Bad Request', message: err.message });
      }
    },
  );

  /** Hands a request for a device of another shard's site to that shard's replica. */
  const askOwner = async (
    id: string,
    path: string,
    query: Record<string, string | number | undefined>,
    reply: FastifyReply,
    sharded: ShardPeers | undefined,
  ): Promise<boolean> => {
    if (!sharded) return false;
    const owner = sharded.shardOfDevice(id);
    if (owner === sharded.self) return false;
    const answer = await sharded.get<unknown>(owner, path, query);
    if (answer.ok) await reply.code(answer.status).send(answer.body);
    else
      await reply.code(503).send({
        statusCode: 503,
        error: 'Service Unavailable',
        message: `shard ${owner}, which holds this device's site, did not answer (${answer.error}); try again once its replica is back`,
      });
    return true;
  };
  const notFound = (reply: FastifyReply) =>
    reply.code(404).send({ statusCode: 404, error: 'Not Found', message: 'no such device' });
  const idParams = {
    type: 'object',
    properties: { id: { type: 'string' } },
    required: ['id'],
  } as const;

  app.get<{ Params: { id: string }; Querystring: Scoped }>(
    '/api/v1/devices/:id',
    {
      schema: {
        summary: 'One device',
        tags: ['devices'],
        params: idParams,
        querystring: scopeQuery,
        response: { 200: { $ref: 'Device#' }, 404: errorSchema, 503: errorSchema },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      if (await askOwner(id, `/api/v1/devices/${encodeURIComponent(id)}`, {}, reply, fanOut(request.query)))
        return reply;
      return inventory.get(id) ?? notFound(reply);
    },
  );

  app.get<{ Params: { id: string }; Querystring: { limit: number; offset: number } & Scoped }>(
    '/api/v1/devices/:id/history',
    {
      schema: {
        summary: "One device's history: every record a sensor reported for it, newest first",
        description:
          'Read from the Parquet observation log, which holds compacted generations: it is at most one compaction interval (--compact-interval, 60 s) behind the device itself. Empty without a data directory.',
        tags: ['devices'],
        params: idParams,
        querystring: deviceHistoryQuery,
        response: { 200: deviceHistoryResponse, 404: errorSchema, 503: errorSchema },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const { limit, offset } = request.query;
      const path = `/api/v1/devices/${encodeURIComponent(id)}/history`;
      if (await askOwner(id, path, { limit, offset }, reply, fanOut(request.query))) return reply;
      const device = inventory.get(id);
      if (!device) return notFound(reply);
      const items = history
        ? await history.deviceHistory({
            site: device.site,
            zone: device.zone,
            deviceId: device.deviceId,
            limit,
            offset,
          })
        : [];
      return { items };
    },
  );
}
