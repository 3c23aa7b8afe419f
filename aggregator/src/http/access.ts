// Who may read the API. The inventory is a map of a plant's network, so in a
// cluster the API asks Kubernetes, as kube-rbac-proxy and controller-runtime's
// secured metrics do: the caller's bearer token goes to a TokenReview, the
// user it names to a SubjectAccessReview for `get` on the virtual resource
// `inventory.hark.dev` in the aggregator's namespace. Reading is then granted
// with ordinary RBAC (the chart's `<release>-reader` Role), to a person's
// `kubectl create token`, a dashboard's ServiceAccount, or the other shards.
// Acting on what is read, acknowledging an alert, asks for `update` on
// `alerts.hark.dev` instead (the chart's `<release>-responder` Role): a SOC
// analyst may close what a dashboard may only show.
//
// Verdicts are cached for a minute, keyed by a hash of the token (never the
// token), so the UI's polling does not call the API server twice per request.
// A failure to reach the API server is a 503, never cached and never an allow.
import { createHash } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';
import { Counter, type Registry } from 'prom-client';
import type { Logger } from '../log.js';

export type Verdict =
  | { allowed: true; user: string }
  | { allowed: false; status: 401 | 403 | 503; message: string };

/** What a route asks of the caller: a verb on one of hark's virtual resources in the aggregator's namespace. */
export interface Permission {
  resource: 'inventory' | 'alerts';
  verb: 'get' | 'update';
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The Kubernetes user the request's token named, once access is checked. */
    apiUser?: string;
  }
  interface FastifyContextConfig {
    /** What the route asks of the caller; default READ. */
    permission?: Permission;
  }
}

/** Reading: every /api/v1 route unless it says otherwise. */
export const READ: Permission = { resource: 'inventory', verb: 'get' };
/** Acting on alerts (acknowledging): the chart's responder Role. */
export const RESPOND: Permission = { resource: 'alerts', verb: 'update' };

export interface ApiAccess {
  /** Whether the request carrying this Authorization header may do what `permission` names. */
  check(authorization: string | undefined, permission?: Permission): Promise<Verdict>;
}

export interface KubernetesAccessOptions {
  /** The aggregator's namespace: where `get` on inventory.hark.dev is asked. */
  namespace: string;
  /** A kubeconfig file; default: in-cluster (the pod's ServiceAccount), else ~/.kube/config. */
  kubeconfig?: string;
  /** How long a verdict is reused; default 60 s. */
  cacheMs?: number;
  logger: Logger;
  registry?: Registry;
  now?: () => number;
}

const MAX_CACHED = 10_000;

export class KubernetesAccess implements ApiAccess {
  private readonly cache = new Map<string, { verdict: Verdict; until: number }>();
  private readonly cacheMs: number;
  private readonly now: () => number;
  private readonly denied: Counter<'reason'>;
  private readonly log: Logger;
  private clients: Promise<Clients> | undefined;

  constructor(private readonly options: KubernetesAccessOptions) {
    this.cacheMs = options.cacheMs ?? 60_000;
    this.now = options.now ?? Date.now;
    this.log = options.logger.child({ module: 'api-access' });
    this.denied = new Counter({
      name: 'hark_aggregator_api_denied_total',
      help: 'API requests refused: no token, a token the API server did not accept, no RBAC grant, or the API server unreachable',
      labelNames: ['reason'] as const,
      registers: options.registry ? [options.registry] : [],
    });
    for (const reason of ['no-token', 'unauthenticated', 'forbidden', 'unavailable'])
      this.denied.inc({ reason }, 0);
  }

  async check(authorization: string | undefined, permission: Permission = READ): Promise<Verdict> {
    const token = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
    if (!token) {
      this.denied.inc({ reason: 'no-token' });
      return {
        allowed: false,
        status: 401,
        message:
          "this API needs a Kubernetes bearer token (Authorization: Bearer …), e.g. from `kubectl create token <serviceaccount>` for an account bound to the aggregator chart's reader Role",
      };
    }
    const key = `${permission.verb} ${permission.resource} ${createHash('sha256').update(token).digest('base64url')}`;
    const now = this.now();
    const cached = this.cache.get(key);
    if (cached && cached.until > now) return this.count(cached.verdict);
    let verdict: Verdict;
    try {
      verdict = await this.review(token, permission);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'cannot review a token with the Kubernetes API server');
      return this.count({
        allowed: false,
        status: 503,
        message: `cannot check the token with the Kubernetes API server (${(err as Error).message}); try again shortly`,
      });
    }
    if (this.cache.size >= MAX_CACHED) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(key, { verdict, until: now + this.cacheMs });
    return this.count(verdict);
  }

  private count(verdict: Verdict): Verdict {
    if (!verdict.allowed)
      this.denied.inc({
        reason:
          verdict.status === 401 ? 'unauthenticated' : verdict.status === 403 ? 'forbidden' : 'unavailable',
      });
    return verdict;
  }

  private async review(token: string, permission: Permission): Promise<Verdict> {
    this.clients ??= this.connect();
    const { authn, authz } = await this.clients;
    const review = await authn.createTokenReview({ body: { spec: { token } } });
    const status = review.status;
    if (!status?.authenticated || !status.user?.username)
      return {
        allowed: false,
        status: 401,
        message: `the Kubernetes API server did not accept the token${status?.error ? ` (${status.error})` : ''}`,
      };
    const user = status.user;
    const access = await authz.createSubjectAccessReview({
      body: {
        spec: {
          user: user.username!,
          ...(user.groups ? { groups: user.groups } : {}),
          ...(user.uid ? { uid: user.uid } : {}),
          ...(user.extra ? { extra: user.extra } : {}),
          resourceAttributes: { group: 'hark.dev', ...permission, namespace: this.options.namespace },
        },
      },
    });
    if (access.status?.allowed) return { allowed: true, user: user.username! };
    return {
      allowed: false,
      status: 403,
      message:
        permission === READ
          ? `${user.username} may not read this aggregator: grant get on inventory.hark.dev in namespace ${this.options.namespace} (bind the chart's reader Role)`
          : `${user.username} may not ${permission.verb} ${permission.resource}.hark.dev in namespace ${this.options.namespace} (bind the chart's responder Role)`,
    };
  }

  private async connect(): Promise<Clients> {
    // Loaded on first use: an aggregator without Kubernetes access never loads the client.
    const k8s = await import('@kubernetes/client-node');
    const kc: KubeConfig = new k8s.KubeConfig();
    if (this.options.kubeconfig) kc.loadFromFile(this.options.kubeconfig);
    else kc.loadFromDefault();
    return {
      authn: kc.makeApiClient(k8s.AuthenticationV1Api),
      authz: kc.makeApiClient(k8s.AuthorizationV1Api),
    };
  }
}

interface Clients {
  authn: import('@kubernetes/client-node').AuthenticationV1Api;
  authz: import('@kubernetes/client-node').AuthorizationV1Api;
}
