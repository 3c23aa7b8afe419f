// Leader election on a coordination.k8s.io Lease, with client-go's rules:
// acquire a lease that is free or expired, renew it every retry period, and
// give up leadership when renewals have failed for the renew deadline, so two
// replicas never reconcile at once. Optimistic concurrency (resourceVersion)
// settles races between candidates.
import type { Logger } from 'pino';
import { isConflict, isNotFound, type KubeClient, resourcePath } from './client.js';

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
}

interface Lease {
  apiVersion: 'coordination.k8s.io/v1';
  kind: 'Lease';
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

const microTime = (d: Date) => d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

export class LeaderElector {
  private leading = false;
  private stopped = false;
  private timer?: NodeJS.Timeout;
  private lastRenew = 0;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;

  constructor(
    private readonly client: KubeClient,
    private readonly options: LeaderElectionOptions,
    private readonly log: Logger,
  ) {
    this.leaseDurationMs = options.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = options.retryPeriodMs ?? 2_000;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Resolves once this replica holds the lease; calls onLost if it later loses it. */
  async run(onLost: () => void): Promise<void> {
    for (;;) {
      if (this.stopped) throw new Error('leader election stopped before the lease was acquired');
      if (await this.tryAcquireOrRenew()) break;
      await new Promise((r) => setTimeout(r, this.retryPeriodMs * (0.8 + Math.random() * 0.4)));
    }
    this.leading = true;
    this.lastRenew = Date.now();
    this.log.info(
      { lease: `${this.options.namespace}/${this.options.name}`, identity: this.options.identity },
      'became leader',
    );
    const renew = async () => {
      if (this.stopped) return;
      const ok = await this.tryAcquireOrRenew();
      if (ok) this.lastRenew = Date.now();
      if (!ok && Date.now() - this.lastRenew > this.renewDeadlineMs) {
        this.leading = false;
        this.log.error({ identity: this.options.identity }, 'lost the leader lease; stopping');
        onLost();
        return;
      }
      this.timer = setTimeout(renew, this.retryPeriodMs);
    };
    this.timer = setTimeout(renew, this.retryPeriodMs);
  }

  /** Stops renewing and, when leading, releases the lease so a successor need not wait for it to expire. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (!this.leading) return;
    this.leading = false;
    try {
      const lease = await this.client.get<Lease>(this.path());
      if (lease.spec.holderIdentity !== this.options.identity) return;
      await this.client.request('PUT', this.path(), {
        body: {
          ...lease,
          spec: {
            ...lease.spec,
            holderIdentity: undefined,
            leaseDurationSeconds: 1,
            renewTime: microTime(new Date()),
          },
        },
      });
    } catch (error) {
      this.log.warn({ err: String(error) }, 'could not release the leader lease');
    }
  }

  private path(name?: string): string {
    return resourcePath(
      'coordination.k8s.io/v1',
      'leases',
      this.options.namespace,
      name ?? this.options.name,
    );
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = new Date();
    const spec = {
      holderIdentity: this.options.identity,
      leaseDurationSeconds: Math.ceil(this.leaseDurationMs / 1000),
      renewTime: microTime(now),
    };
    try {
      let lease: Lease;
      try {
        lease = await this.client.get<Lease>(this.path());
      } catch (error) {
        if (!isNotFound(error)) throw error;
        await this.client.request(
          'POST',
          resourcePath('coordination.k8s.io/v1', 'leases', this.options.namespace),
          {
            body: {
              apiVersion: 'coordination.k8s.io/v1',
              kind: 'Lease',
              metadata: { name: this.options.name, namespace: this.options.namespace },
              spec: { ...spec, acquireTime: microTime(now), leaseTransitions: 0 },
            },
          },
        );
        return true;
      }
      const held = lease.spec.holderIdentity;
      const mine = held === this.options.identity;
      const renewed = lease.spec.renewTime ? Date.parse(lease.spec.renewTime) : 0;
      const expired = renewed + (lease.spec.leaseDurationSeconds ?? 15) * 1000 < now.getTime();
      if (held && !mine && !expired) return false;
      await this.client.request('PUT', this.path(), {
        body: {
          ...lease,
          spec: {
            ...lease.spec,
            ...spec,
            ...(mine
              ? {}
              : { acquireTime: microTime(now), leaseTransitions: (lease.spec.leaseTransitions ?? 0) + 1 }),
          },
        },
      });
      return true;
    } catch (error) {
      if (!isConflict(error)) this.log.warn({ err: String(error) }, 'leader election request failed');
      return false;
    }
  }
}
