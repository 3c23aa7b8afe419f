// Alerts the inventory raised (alerts/), newest first. On a sharded aggregator
// the list is merged from every shard as device lists are (scale/fan-out.ts).
import type { FastifyInstance } from 'fastify';
import { type AlertQuery, type AlertStore, alertOrder } from '../../alerts/store.js';
import { ShardedQueryError, shardedPage } from '../../scale/fan-out.js';
import type { ShardPeers } from '../../scale/peers.js';
import { alertListQuery, alertListResponse, errorSchema } from '../schemas.js';

export function alertRoutes(app: FastifyInstance, alerts: AlertStore, peers: ShardPeers | undefined): void {
  app.get<{ Querystring: AlertQuery & { scope?: 'shard' } }>(
    '/api/v1/alerts',
    {
      schema: {
        summary:
          'Alerts: new devices, devices that changed what they are, sensors down or near certificate expiry',
        description:
          "Most recently raised first. A sensor node's reports raise no device alerts while it learns (the aggregator's --alert-learning after it first hears from the node).",
        tags: ['alerts'],
        querystring: alertListQuery,
        response: { 200: alertListResponse, 400: errorSchema },
      },
    },
    async (request, reply) => {
      const { scope, ...query } = request.query;
      if (!peers || scope === 'shard') return alerts.query(query);
      try {
        return await shardedPage(
          peers,
          '/api/v1/alerts',
          query,
          (q, maxLimit) => alerts.query(q, maxLimit),
          alertOrder,
        );
      } catch (err) {
        if (!(err instanceof ShardedQueryError)) throw err;
        return reply.code(400).send({ statusCode: 400, error: 'Bad Request', message: err.message });
      }
    },
  );
}
