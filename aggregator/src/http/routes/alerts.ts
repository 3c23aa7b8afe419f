// Alerts the inventory raised (alerts/), newest first. On a sharded aggregator
// the list is merged from every shard as device lists are (scale/fan-out.ts).
import type { FastifyInstance } from 'fastify';
import {
  type Acknowledgement,
  type Alert,
  type AlertQuery,
  type AlertStore,
  alertOrder,
} from '../../alerts/store.js';
import { ShardedQueryError, shardedPage } from '../../scale/fan-out.js';
import type { ShardPeers } from '../../scale/peers.js';
import { RESPOND } from '../access.js';
import {
  alertAcknowledgeBody,
  alertAcknowledgeParams,
  alertListQuery,
  alertListResponse,
  errorSchema,
  scopeParameter,
} from '../schemas.js';

export function alertRoutes(
  app: FastifyInstance,
  alerts: AlertStore,
  acknowledge: (id: string, acknowledgement: Acknowledgement) => Promise<Alert | undefined>,
  peers: ShardPeers | undefined,
): void {
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

  app.post<{
    Params: { id: string };
    Body: { comment?: string } | undefined;
    Querystring: { scope?: 'shard' };
  }>(
    '/api/v1/alerts/:id/acknowledge',
    {
      config: { permission: RESPOND },
      // The body is optional: no comment, no body.
      preValidation: async (request) => {
        request.body ??= {};
      },
      schema: {
        summary: 'Acknowledge an alert: someone took note of it',
        description:
          "Records who (the token's Kubernetes user), when and, optionally, why. The alert stays listed; `acknowledged=false` lists the open ones. When it is raised again it is open again. Needs `update` on `alerts.hark.dev` in the aggregator's namespace (the chart's responder Role). Durable: logged before it is answered.",
        tags: ['alerts'],
        params: alertAcknowledgeParams,
        querystring: { type: 'object', properties: { ...scopeParameter }, additionalProperties: false },
        body: alertAcknowledgeBody,
        response: { 200: { $ref: 'Alert#' }, 404: errorSchema, 503: errorSchema },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const comment = request.body?.comment;
      const acknowledgement: Acknowledgement = {
        at: new Date().toISOString(),
        by: request.apiUser ?? 'anonymous',
        ...(comment ? { comment } : {}),
      };
      const held = await acknowledge(id, acknowledgement);
      if (held) return held;
      if (peers && request.query.scope !== 'shard') {
        // The id does not name its site, so its owner is asked among the others; the caller's token
        // goes along, and the owner checks it and names who acknowledged.
        const shards = Array.from({ length: peers.count }, (_, i) => i).filter((i) => i !== peers.self);
        const answers = await Promise.all(
          shards.map((shard) =>
            peers.post<Alert & { message?: string }>(
              shard,
              `/api/v1/alerts/${encodeURIComponent(id)}/acknowledge`,
              request.body ?? {},
              request.headers.authorization,
            ),
          ),
        );
        for (const answer of answers)
          if (answer.ok && answer.status !== 404) return reply.code(answer.status).send(answer.body);
        const silent = shards.filter((_, i) => !answers[i]!.ok);
        if (silent.length > 0)
          return reply.code(503).send({
            statusCode: 503,
            error: 'Service Unavailable',
            message: `alert ${id} is not held by this shard, and shard${silent.length > 1 ? 's' : ''} ${silent.join(', ')} did not answer; try again once ${silent.length > 1 ? 'they are' : 'it is'} back`,
          });
      }
      return reply.code(404).send({ statusCode: 404, error: 'Not Found', message: `no alert ${id}` });
    },
  );
}
