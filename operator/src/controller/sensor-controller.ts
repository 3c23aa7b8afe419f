// Reconciles one Sensor: its certificate Secret, its agent ConfigMap and
// DaemonSet, and its status. Children are applied with server-side apply
// under one field manager and only when they differ from what we want
// (someone's hand edit is put back; a steady state makes zero writes).
import { isDeepStrictEqual } from 'node:util';
import type { Condition, Sensor, SensorStatus } from '@hark/contracts/sensor';
import {
  API_VERSION,
  PLURAL,
  parseDuration,
  parseSensorSpec,
  withSpecDefaults,
} from '@hark/contracts/sensor';
import type { Logger } from 'pino';
import {
  type AgentCertificate,
  ANNOTATIONS,
  issueAgentCertificate,
  reusable,
} from '../certs/agent-certificate.js';
import { publishCrl } from '../certs/revocation.js';
import type { SiteCa } from '../certs/site-ca.js';
import { isNotFound, type KubeClient, type KubeObject, resourcePath } from '../kube/client.js';
import { type Informer, keyOf } from '../kube/informer.js';
import type { EventRecorder } from '../observability/events.js';
import type { Metrics } from '../observability/metrics.js';
import { renderConfigMap } from '../render/agent-config.js';
import { renderDaemonSet } from '../render/daemonset.js';
import {
  certificateSecretName,
  childLabels,
  childName,
  ownerReference,
  selectorLabels,
} from '../render/labels.js';
import { findCondition, setCondition } from '../status/conditions.js';
import { isSubset } from './subset.js';

export interface DaemonSetObject extends KubeObject {
  spec?: unknown;
  status?: {
    observedGeneration?: number;
    desiredNumberScheduled?: number;
    numberReady?: number;
    updatedNumberScheduled?: number;
    numberAvailable?: number;
  };
}

interface PodObject extends KubeObject {
  spec?: { nodeName?: string };
  status?: {
    phase?: string;
    conditions?: Array<{ type: string; status: string; message?: string }>;
    containerStatuses?: Array<{ state?: { waiting?: { reason?: string; message?: string } } }>;
  };
}

interface SecretObject extends KubeObject {
  data?: Record<string, string>;
}

export interface ReconcileResult {
  /** Reconcile again after this long even if nothing changes (certificate renewal). */
  requeueAfterMs?: number;
}

export interface SensorControllerDeps {
  client: KubeClient;
  sensors: Informer<Sensor & KubeObject>;
  daemonSets: Informer<DaemonSetObject>;
  siteCa: () => SiteCa;
  events: EventRecorder;
  metrics: Metrics;
  log: Logger;
  now: () => Date;
  /** How long agent certificates from a rotated-out CA stay in use after the trust bundle is published. */
  caRotationGraceMs: number;
  /** Where the site CA Secret is: the finalizer publishes revocations there. */
  caSecret: { namespace: string; name: string };
}

/** Revokes the Sensor's certificate before the Sensor goes: see certs/revocation.ts. */
export const FINALIZER = 'hark.dev/revoke-certificate';

const fromB64 = (v?: string) => (v ? Buffer.from(v, 'base64').toString('utf8') : undefined);
const toB64 = (v: string) => Buffer.from(v).toString('base64');
const rfc3339 = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

export class SensorController {
  constructor(private readonly deps: SensorControllerDeps) {}

  async reconcile(namespace: string, name: string): Promise<ReconcileResult> {
    const { sensors, log } = this.deps;
    const sensor = sensors.get(namespace, name);
    if (!sensor) return {};
    if (sensor.metadata.deletionTimestamp) {
      await this.finalize(sensor);
      return {};
    }
    if (!sensor.metadata.finalizers?.includes(FINALIZER)) {
      this.deps.metrics.writes.labels('SensorFinalizer').inc();
      await this.deps.client.mergePatch(resourcePath(API_VERSION, PLURAL, namespace, name), {
        metadata: {
          resourceVersion: sensor.metadata.resourceVersion,
          finalizers: [...(sensor.metadata.finalizers ?? []), FINALIZER],
        },
      });
      // The update event brings the Sensor back with its finalizer.
      return {};
    }
    const generation = sensor.metadata.generation ?? 0;
    const now = this.deps.now();

    // The API server validates against the CRD schema already; this catches
    // Sensors stored before a schema change, and says what to fix.
    const parsed = parseSensorSpec(sensor.spec);
    if (!parsed.spec) {
      const message = parsed.issues.map((i) => `${i.path}: ${i.message}`).join('; ');
      await this.writeStatus(sensor, { observedGeneration: generation }, [
        { type: 'Ready', status: 'False', reason: 'InvalidSpec', message },
        {
          type: 'Stalled',
          status: 'True',
          reason: 'InvalidSpec',
          message: `Fix the Sensor spec: ${message}`,
        },
        { type: 'Reconciling', status: 'False', reason: 'InvalidSpec', message: 'Waiting for a valid spec' },
      ]);
      return {};
    }

    const { certificate, graceRequeueMs } = await this.ensureCertificate(sensor, now);
    await this.ensureChild(
      resourcePath('v1', 'configmaps', namespace, childName(sensor)),
      renderConfigMap(sensor),
      'ConfigMap',
    );
    const dsPath = resourcePath('apps/v1', 'daemonsets', namespace, childName(sensor));
    const cachedDs = this.deps.daemonSets.get(namespace, childName(sensor));
    const desiredDs = renderDaemonSet(sensor, certificate.serialNumber);
    // A paused rollout holds the running template: an existing DaemonSet is
    // left as it is until spec.rollout.paused is false again.
    const heldBack = Boolean(sensor.spec.rollout?.paused && cachedDs && !isSubset(desiredDs, cachedDs));
    const ds = heldBack
      ? cachedDs!
      : await this.ensureChild<DaemonSetObject>(dsPath, desiredDs, 'DaemonSet', cachedDs);

    const rollout = await this.updateStatus(sensor, certificate, ds, heldBack, now);
    this.deps.metrics.certificateDaysToExpiry
      .labels(namespace, name)
      .set((certificate.notAfter.getTime() - now.getTime()) / 86_400_000);
    log.debug({ sensor: keyOf(namespace, name) }, 'reconciled');
    const renewInMs = Math.max(1000, certificate.renewalTime.getTime() - now.getTime());
    return {
      requeueAfterMs: Math.min(renewInMs, rollout.requeueAfterMs ?? renewInMs, graceRequeueMs ?? renewInMs),
    };
  }

  /** The Sensor is being deleted: revoke its certificate, then let it go. Garbage collection does the rest. */
  private async finalize(sensor: Sensor & KubeObject): Promise<void> {
    if (!sensor.metadata.finalizers?.includes(FINALIZER)) return;
    const { client, log } = this.deps;
    const secretPath = resourcePath(
      'v1',
      'secrets',
      sensor.metadata.namespace,
      certificateSecretName(sensor),
    );
    let certPem: string | undefined;
    try {
      certPem = fromB64((await client.get<SecretObject>(secretPath)).data?.['tls.crt']);
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    if (certPem) {
      await publishCrl(
        client,
        this.deps.caSecret,
        this.deps.siteCa(),
        { certPem, sensor: `${sensor.metadata.namespace}/${sensor.metadata.name}` },
        this.deps.now(),
        log,
      );
      await this.deps.events.record(
        sensor,
        'Normal',
        'CertificateRevoked',
        "The agent certificate was added to the site CA's revocation list (ca.crl)",
      );
    }
    const finalizers = sensor.metadata.finalizers.filter((f) => f !== FINALIZER);
    await client.mergePatch(
      resourcePath(API_VERSION, PLURAL, sensor.metadata.namespace, sensor.metadata.name),
      {
        metadata: { resourceVersion: sensor.metadata.resourceVersion, finalizers },
      },
    );
  }

  private async ensureCertificate(
    sensor: Sensor & KubeObject,
    now: Date,
  ): Promise<{ certificate: AgentCertificate; graceRequeueMs?: number }> {
    const { client, metrics, events, log } = this.deps;
    const namespace = sensor.metadata.namespace;
    const path = resourcePath('v1', 'secrets', namespace, certificateSecretName(sensor));
    let existing: SecretObject | undefined;
    try {
      existing = await client.get<SecretObject>(path);
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    const ca = this.deps.siteCa();
    const spec = sensor.spec.certificate;
    const policy = {
      site: sensor.spec.site,
      sensor: sensor.metadata.name,
      durationMs: parseDuration(spec?.duration ?? '2160h'),
      renewBeforeMs: spec?.renewBefore ? parseDuration(spec.renewBefore) : undefined,
      keyAlgorithm: spec?.privateKey?.algorithm ?? 'ECDSA',
    };
    // During a CA rotation's grace period, certificates from the previous CA
    // stay in use while brokers and agents load the new trust bundle.
    const graceEndsAt = ca.rotatedAt ? ca.rotatedAt.getTime() + this.deps.caRotationGraceMs : 0;
    const inGrace = now.getTime() < graceEndsAt;
    const existingPems = {
      certPem: fromB64(existing?.data?.['tls.crt']),
      keyPem: fromB64(existing?.data?.['tls.key']),
    };
    const current = reusable(
      existingPems,
      inGrace ? [ca.certPem, ...ca.previousCertPems] : [ca.certPem],
      policy,
      now,
    );
    const fromOldCa = Boolean(
      current && ca.previousCertPems.length > 0 && !reusable(existingPems, [ca.certPem], policy, now),
    );
    // A certificate from the old CA is replaced when the grace period ends: look again then.
    const graceRequeueMs = fromOldCa ? graceEndsAt - now.getTime() + 500 : undefined;
    const rotatedAway = !current && Boolean(reusable(existingPems, ca.previousCertPems, policy, now));
    const trustBundle = ca.trustBundlePem;
    if (current && fromB64(existing?.data?.['ca.crt']) === trustBundle)
      return { certificate: current, graceRequeueMs };

    const certificate = current ?? (await issueAgentCertificate(ca, policy, now));
    const reason = current
      ? 'TrustBundleUpdated'
      : rotatedAway
        ? 'CARotated'
        : existing
          ? 'Renewed'
          : 'Issued';
    await client.apply(path, {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'kubernetes.io/tls',
      metadata: {
        name: certificateSecretName(sensor),
        namespace,
        labels: childLabels(sensor),
        annotations: {
          [ANNOTATIONS.serial]: certificate.serialNumber,
          [ANNOTATIONS.notAfter]: rfc3339(certificate.notAfter),
          [ANNOTATIONS.renewalTime]: rfc3339(certificate.renewalTime),
        },
        ownerReferences: [ownerReference(sensor)],
      },
      data: {
        'tls.crt': toB64(certificate.certPem),
        'tls.key': toB64(certificate.keyPem),
        'ca.crt': toB64(trustBundle),
      },
    });
    metrics.writes.labels('Secret').inc();
    if (!current) {
      metrics.certificatesIssued.labels(reason).inc();
      log.info(
        {
          sensor: keyOf(namespace, sensor.metadata.name),
          serial: certificate.serialNumber,
          notAfter: certificate.notAfter,
          caSource: ca.source,
        },
        `agent certificate ${reason.toLowerCase()}`,
      );
      await events.record(
        sensor,
        'Normal',
        reason === 'Issued'
          ? 'CertificateIssued'
          : reason === 'CARotated'
            ? 'CertificateReissued'
            : 'CertificateRenewed',
        `Issued agent certificate ${certificate.serialNumber} from the ${ca.source.toLowerCase()} site CA; valid until ${rfc3339(certificate.notAfter)}, renews at ${rfc3339(certificate.renewalTime)}`,
      );
    }
    return { certificate, graceRequeueMs };
  }

  /** Applies `desired` when the live object (from cache or GET) differs in any field we own. */
  private async ensureChild<T extends KubeObject>(
    path: string,
    desired: KubeObject,
    kind: string,
    cached?: T,
  ): Promise<T> {
    let live = cached;
    if (!live) {
      try {
        live = await this.deps.client.get<T>(path);
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    }
    if (live && isSubset(desired, live)) return live;
    this.deps.metrics.writes.labels(kind).inc();
    return this.deps.client.apply<T>(path, desired);
  }

  private async updateStatus(
    sensor: Sensor & KubeObject,
    cert: AgentCertificate,
    ds: DaemonSetObject,
    heldBack: boolean,
    now: Date,
  ): Promise<ReconcileResult> {
    const generation = sensor.metadata.generation ?? 0;
    const spec = withSpecDefaults(sensor.spec);
    const s = ds.status ?? {};
    const desired = s.desiredNumberScheduled ?? 0;
    const ready = s.numberReady ?? 0;
    const updated = s.updatedNumberScheduled ?? 0;
    const observed = (s.observedGeneration ?? 0) >= (ds.metadata.generation ?? 0);
    const previous = sensor.status;
    const complete = observed && desired > 0 && updated === desired && ready === desired;

    // Progress: a new generation starts a rollout; an agent updated or becoming
    // ready is progress. Stalled when none for the progress deadline.
    const progressed =
      previous?.observedGeneration !== generation ||
      previous?.updatedNodes !== updated ||
      previous?.readyNodes !== ready ||
      !previous?.lastProgressTime;
    const lastProgressTime = progressed ? rfc3339(now) : previous!.lastProgressTime!;
    const deadlineMs = parseDuration(spec.rollout.progressDeadline);
    const remainingMs = Date.parse(lastProgressTime) + deadlineMs - now.getTime();

    type C = Omit<Condition, 'lastTransitionTime'>;
    let agents: C;
    let stalled: C = {
      type: 'Stalled',
      status: 'False',
      reason: 'Progressing',
      message: 'The rollout is progressing or complete',
    };
    let reconciling: C | undefined;
    if (heldBack) {
      const message = `Rollout paused (spec.rollout.paused): the agents keep their running template, ${ready}/${desired} ready; set paused to false to roll out the change`;
      agents = complete
        ? { type: 'AgentsReady', status: 'True', reason: 'RolloutPaused', message }
        : { type: 'AgentsReady', status: 'False', reason: 'RolloutPaused', message };
      reconciling = { type: 'Reconciling', status: 'False', reason: 'RolloutPaused', message };
    } else if (!observed) {
      agents = {
        type: 'AgentsReady',
        status: 'False',
        reason: 'RolloutPending',
        message: 'Waiting for the DaemonSet controller to observe the new template',
      };
    } else if (desired === 0) {
      agents = {
        type: 'AgentsReady',
        status: 'False',
        reason: 'NoMatchingNodes',
        message:
          "No node matches this Sensor: check spec.nodeSelector, spec.affinity and spec.tolerations against your nodes' labels and taints",
      };
      stalled = { type: 'Stalled', status: 'True', reason: 'NoMatchingNodes', message: agents.message };
    } else if (!complete) {
      const counts = `${updated}/${desired} agents updated, ${ready}/${desired} ready`;
      agents = { type: 'AgentsReady', status: 'False', reason: 'RollingOut', message: counts };
      if (remainingMs <= 0) {
        const why = await this.diagnosePods(sensor);
        const message = `No rollout progress for ${spec.rollout.progressDeadline} (${counts})${why ? `: ${why}` : ''}`;
        agents = { ...agents, reason: 'ProgressDeadlineExceeded', message };
        stalled = { type: 'Stalled', status: 'True', reason: 'ProgressDeadlineExceeded', message };
      }
    } else {
      agents = {
        type: 'AgentsReady',
        status: 'True',
        reason: 'AllAgentsReady',
        message: `${ready}/${desired} agents ready`,
      };
    }
    const isReady = complete;
    const isStalled = stalled.status === 'True';
    reconciling ??= {
      type: 'Reconciling',
      status: isReady || isStalled ? 'False' : 'True',
      reason: isReady ? 'ReconciliationSucceeded' : isStalled ? stalled.reason : agents.reason,
      message: isReady ? 'Up to date' : agents.message,
    };
    const conditions: C[] = [
      isReady
        ? { type: 'Ready', status: 'True', reason: 'Ready', message: `Certificate issued; ${agents.message}` }
        : { type: 'Ready', status: 'False', reason: agents.reason, message: agents.message },
      reconciling,
      stalled,
      {
        type: 'CertificateReady',
        status: 'True',
        reason: 'Issued',
        message: `Certificate ${cert.serialNumber} valid until ${rfc3339(cert.notAfter)}`,
      },
      agents,
    ];
    const status: Partial<SensorStatus> = {
      observedGeneration: generation,
      desiredNodes: desired,
      readyNodes: ready,
      updatedNodes: updated,
      ...(complete && !heldBack
        ? { agentVersion: spec.agent.version }
        : previous?.agentVersion
          ? { agentVersion: previous.agentVersion }
          : {}),
      lastProgressTime,
      certificate: {
        secretName: certificateSecretName(sensor),
        serialNumber: cert.serialNumber,
        notAfter: rfc3339(cert.notAfter),
        renewalTime: rfc3339(cert.renewalTime),
        caSource: this.deps.siteCa().source,
      },
    };
    if (isReady && findCondition(previous?.conditions, 'Ready')?.status !== 'True') {
      await this.deps.events.record(sensor, 'Normal', 'Ready', conditions[0]!.message);
    } else if (isStalled && findCondition(previous?.conditions, 'Stalled')?.status !== 'True') {
      await this.deps.events.record(sensor, 'Warning', stalled.reason, stalled.message);
    }
    await this.writeStatus(sensor, status, conditions, now);
    // While rolling out, look again when the deadline would pass, even if nothing else changes.
    return !complete && !heldBack && !isStalled && desired > 0
      ? { requeueAfterMs: Math.max(1000, remainingMs + 500) }
      : {};
  }

  /** What a person needs to know about agent pods that are not ready: the scheduler's or kubelet's own words. */
  private async diagnosePods(sensor: Sensor & KubeObject): Promise<string> {
    const selector = Object.entries(selectorLabels(sensor))
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    try {
      const pods = await this.deps.client.get<{ items: PodObject[] }>(
        `${resourcePath('v1', 'pods', sensor.metadata.namespace)}?labelSelector=${encodeURIComponent(selector)}`,
      );
      const reasons = new Map<string, string[]>();
      for (const pod of pods.items) {
        const unschedulable = pod.status?.conditions?.find(
          (c) => c.type === 'PodScheduled' && c.status === 'False',
        );
        const waiting = pod.status?.containerStatuses?.find((c) => c.state?.waiting)?.state?.waiting;
        const why = unschedulable?.message
          ? `unschedulable: ${unschedulable.message}`
          : waiting
            ? `${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}`
            : pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')
              ? undefined
              : `not ready (phase ${pod.status?.phase ?? 'Unknown'}); check the agent's readiness probe and logs`;
        if (why) reasons.set(why, [...(reasons.get(why) ?? []), pod.spec?.nodeName ?? pod.metadata.name]);
      }
      return [...reasons]
        .map(([why, where]) => `${where.length} pod(s) ${why} [${where.slice(0, 3).join(', ')}]`)
        .join('; ');
    } catch (error) {
      return `could not list the agent pods (${error instanceof Error ? error.message : String(error)})`;
    }
  }

  private async writeStatus(
    sensor: Sensor & KubeObject,
    fields: Partial<SensorStatus>,
    conditions: Array<Omit<Condition, 'lastTransitionTime'>>,
    now: Date = this.deps.now(),
  ): Promise<void> {
    const generation = sensor.metadata.generation ?? 0;
    let list = sensor.status?.conditions;
    for (const c of conditions) list = setCondition(list, c, generation, now);
    const status = { ...fields, conditions: list } as SensorStatus;
    if (isDeepStrictEqual(normalise(status), normalise(sensor.status))) return;
    this.deps.metrics.writes.labels('SensorStatus').inc();
    await this.deps.client.apply(
      resourcePath(API_VERSION, PLURAL, sensor.metadata.namespace, sensor.metadata.name, 'status'),
      {
        apiVersion: API_VERSION,
        kind: 'Sensor',
        metadata: { name: sensor.metadata.name, namespace: sensor.metadata.namespace },
        status,
      },
    );
  }
}

/** Status as compared for "did anything change": condition order does not matter. */
function normalise(status: SensorStatus | undefined): unknown {
  if (!status) return undefined;
  const conditions = [...(status.conditions ?? [])].sort((a, b) => a.type.localeCompare(b.type));
  return JSON.parse(JSON.stringify({ ...status, conditions }));
}
