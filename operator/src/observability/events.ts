// Events on the Sensor (events.k8s.io/v1) for what a person should see in
// `kubectl describe sensor`. Best effort: an event that cannot be written is
// logged, never fails a reconcile.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { type KubeClient, type KubeObject, resourcePath } from '../kube/client.js';

export class EventRecorder {
  constructor(
    private readonly client: KubeClient,
    private readonly log: Logger,
    private readonly instance = process.env.HOSTNAME ?? 'local',
  ) {}

  async record(
    object: KubeObject,
    type: 'Normal' | 'Warning',
    reason: string,
    note: string,
    action = reason,
  ): Promise<void> {
    const namespace = object.metadata.namespace ?? 'default';
    const now = new Date().toISOString().replace(/Z$/, '000Z');
    try {
      await this.client.request('POST', resourcePath('events.k8s.io/v1', 'events', namespace), {
        body: {
          apiVersion: 'events.k8s.io/v1',
          kind: 'Event',
          metadata: { name: `${object.metadata.name}.${randomBytes(8).toString('hex')}`, namespace },
          eventTime: now,
          reportingController: 'hark.dev/operator',
          reportingInstance: this.instance,
          action,
          reason,
          type,
          note: note.slice(0, 1024),
          regarding: {
            apiVersion: object.apiVersion,
            kind: object.kind,
            name: object.metadata.name,
            namespace,
            uid: object.metadata.uid,
            resourceVersion: object.metadata.resourceVersion,
          },
        },
      });
    } catch (error) {
      this.log.warn({ err: String(error), reason }, 'could not record event');
    }
  }
}
