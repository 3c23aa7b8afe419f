// The Sensor API (hark.dev/v1alpha1), written once. The CRD's structural
// OpenAPI schema, the TypeScript types and the runtime validators are all
// derived from these definitions; nothing else describes a Sensor.
import { type Static, type TSchema, Type } from '@sinclair/typebox';

export const GROUP = 'hark.dev';
export const VERSION = 'v1alpha1';
export const KIND = 'Sensor';
export const PLURAL = 'sensors';
export const API_VERSION = `${GROUP}/${VERSION}`;

/** A Kubernetes-style duration ("90d" is not one; "2160h", "30m", "1h30m" are). */
const Duration = (description: string, def: string) =>
  Type.String({ description, default: def, pattern: '^([0-9]+(\\.[0-9]+)?(h|m|s|ms))+$' });

/** Fields whose shape is Kubernetes' own (affinity, tolerations, resources): kept opaque here, checked by the API server where they land. */
const KubeObject = (description: string) =>
  Type.Object({}, { description, additionalProperties: true, 'x-kubernetes-preserve-unknown-fields': true });

const DNS_LABEL = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';

export const PROTOCOL_FAMILIES = [
  'arp',
  'dhcp',
  'mdns',
  'ssdp',
  'lldp',
  'cdp',
  'dns',
  'netbios',
  'http',
  'tls',
  'snmp',
  'sip',
  'wsd',
  'enip',
  'modbus',
  'bacnet',
  'profinet',
  's7comm',
  'dnp3',
  'opcua',
] as const;

/** How the agent captures live (sensor-agent/src/agent/live.ts). */
export const CAPTURE_BACKENDS = ['auto', 'libpcap', 'tcpdump'] as const;
export type CaptureBackend = (typeof CAPTURE_BACKENDS)[number];

export const CaptureSpec = Type.Object(
  {
    interfaces: Type.Array(Type.String({ minLength: 1, maxLength: 15 }), {
      description:
        'Network interfaces to capture on, by name (e.g. ["eth1", "eth2"]). The single entry "auto" captures on every interface that is up and not loopback.',
      default: ['auto'],
      minItems: 1,
      maxItems: 16,
    }),
    bpfFilter: Type.Optional(
      Type.String({
        description:
          'An optional BPF capture filter (tcpdump syntax) applied in the kernel, e.g. "not port 22". Leave empty to see everything.',
        maxLength: 1024,
      }),
    ),
    protocols: Type.Array(Type.Union(PROTOCOL_FAMILIES.map((p) => Type.Literal(p))), {
      description:
        'The protocol families to decode. Leave unset to decode every family the agent knows; narrow it to reduce CPU on busy links. Some families cover several protocols: "dhcp" DHCPv4 and DHCPv6; "cdp" CDP and the MikroTik (MNDP) and Ubiquiti discovery broadcasts; "snmp" SNMP and syslog; "dnp3" DNP3, IEC 60870-5-104, IEC 61850 GOOSE, sampled values and MMS (IEC 61850-8-1, ISO 9506), and IEEE C37.118 synchrophasors; "s7comm" S7comm, Omron FINS and Beckhoff ADS; "profinet" PROFINET DCP and IO context management (DCE/RPC); "dns" DNS and LLMNR; "ssdp" SSDP, UPnP device descriptions and TP-Link smart-home answers; "http" HTTP heads, IPP printer attributes, HNAP device settings and RTSP heads; "tls" TLS ClientHellos, SSH identification strings and the greetings of FTP, SMTP, POP3 and IMAP; "netbios" NBNS, the Windows browser protocol, SMB session setup and Kerberos logons; "lldp" LLDP, spanning tree BPDUs and router hellos (OSPF, EIGRP, VRRP, HSRP, RIP).',
      default: [...PROTOCOL_FAMILIES],
      'x-kubernetes-list-type': 'set',
    }),
    backend: Type.Union(
      CAPTURE_BACKENDS.map((b) => Type.Literal(b)),
      {
        description:
          'How the agent reads packets: "libpcap" in its own process (the fastest), "tcpdump" through a supervised tcpdump child, or "auto": libpcap when the agent image has it, else tcpdump.',
        default: 'auto',
      },
    ),
    bufferMiB: Type.Integer({
      description:
        'The kernel capture buffer of each interface, in MiB: what absorbs a burst while the agent is busy. A burst larger than it is dropped and counted as kernel drops. The buffer is mapped into the agent and counts in its memory. 32 keeps a steady 1 Gbit/s of mixed traffic without loss; a link with bursts far above its average wants 128 (measured with make bench ARGS=live-capture).',
      minimum: 2,
      maximum: 1024,
      default: 32,
    }),
  },
  { description: 'What the agent listens to. It never transmits onto the monitored network.' },
);

export const ReportingSpec = Type.Object(
  {
    brokerUrl: Type.String({
      description:
        'The MQTT broker the agents report to, with mutual TLS, e.g. "mqtts://hark-aggregator.hark-system.svc:8883".',
      pattern: '^mqtts://',
      'x-kubernetes-validations': [
        {
          rule: "self.startsWith('mqtts://')",
          message: 'brokerUrl must use mqtts:// (mutual TLS is required)',
        },
      ],
    }),
    topicPrefix: Type.String({
      description: 'The MQTT topic prefix under which this sensor publishes.',
      default: 'hark',
      pattern: '^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$',
    }),
    snapshotInterval: Duration(
      'How often the agent publishes a full inventory snapshot between deltas, so a late or restarted aggregator converges.',
      '5m',
    ),
  },
  { description: 'Where and how often the agents report.' },
);

export const AgentSpec = Type.Object(
  {
    image: Type.String({
      description: 'The agent container image repository.',
      default: 'ghcr.io/hark-dev/sensor-agent',
      minLength: 1,
    }),
    version: Type.String({
      description:
        'The agent version (the image tag). Changing it rolls the DaemonSet at rollout.maxUnavailable.',
      default: '0.1.0',
      pattern: '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$',
    }),
    resources: Type.Optional(KubeObject('Compute resources for the agent container (requests and limits).')),
    priorityClassName: Type.Optional(
      Type.String({ description: 'The priority class of the agent pods.', maxLength: 253 }),
    ),
    metricsPort: Type.Integer({
      description:
        "The port the agent serves /metrics, /healthz and /readyz on. The agent shares the node's network (hostNetwork), so Sensors whose nodes overlap need distinct ports.",
      default: 9464,
      minimum: 1024,
      maximum: 65535,
    }),
    env: Type.Optional(
      Type.Array(
        Type.Object({
          name: Type.String({
            description: 'Environment variable name.',
            pattern: '^[A-Za-z_][A-Za-z0-9_]*$',
          }),
          value: Type.String({ description: 'Environment variable value.' }),
        }),
        {
          description: 'Extra environment variables for the agent container.',
          'x-kubernetes-list-type': 'map',
          'x-kubernetes-list-map-keys': ['name'],
          maxItems: 64,
        },
      ),
    ),
  },
  { description: 'The capture agent the DaemonSet runs.' },
);

export const RolloutSpec = Type.Object(
  {
    maxUnavailable: Type.Union([Type.Integer({ minimum: 0 }), Type.String({ pattern: '^[0-9]+%$' })], {
      description:
        'How many edge nodes may be without a ready agent during an update: a count or a percentage.',
      default: 1,
    }),
    paused: Type.Boolean({
      description: 'Hold the rollout: the DaemonSet keeps its current template until this is false again.',
      default: false,
    }),
    progressDeadline: Duration(
      'How long a rollout may go without progress before the Sensor is marked Stalled.',
      '10m',
    ),
  },
  { description: 'How agent updates roll across the selected nodes.' },
);

export const CertificateSpec = Type.Object(
  {
    duration: Duration('Lifetime of the agent client certificate.', '2160h'),
    renewBefore: Type.Optional(
      Duration('Renew this long before expiry. Defaults to one third of the lifetime.', '720h'),
    ),
    privateKey: Type.Optional(
      Type.Object(
        {
          algorithm: Type.Union([Type.Literal('ECDSA'), Type.Literal('RSA')], {
            description:
              'ECDSA (P-256, the default: small, fast to issue and to handshake) or RSA (2048 bits, for brokers that need it). Changing it re-issues the certificate.',
            default: 'ECDSA',
          }),
        },
        { description: "The agent's private key, generated by the operator and never leaving the Secret." },
      ),
    ),
  },
  { description: 'The X.509 client certificate the operator issues to this sensor from the site CA.' },
);

export const SensorSpec = Type.Object(
  {
    site: Type.String({
      description: 'The site this sensor watches; part of its certificate identity and MQTT topics.',
      pattern: DNS_LABEL,
      maxLength: 63,
    }),
    zone: Type.Optional(
      Type.String({ description: 'An optional zone within the site.', pattern: DNS_LABEL, maxLength: 63 }),
    ),
    nodeSelector: Type.Optional(
      Type.Record(Type.String(), Type.String(), {
        description: 'The edge nodes to run on, by label (e.g. {"hark.dev/role": "edge"}).',
      }),
    ),
    affinity: Type.Optional(
      KubeObject('Node affinity for the agent pods, in the Kubernetes Affinity shape.'),
    ),
    tolerations: Type.Optional(
      Type.Array(KubeObject('A Kubernetes Toleration.'), {
        description: 'Tolerations for the agent pods, so they land on tainted edge nodes.',
        'x-kubernetes-list-type': 'atomic',
      }),
    ),
    capture: Type.Optional(CaptureSpec),
    reporting: ReportingSpec,
    agent: Type.Optional(AgentSpec),
    rollout: Type.Optional(RolloutSpec),
    certificate: Type.Optional(CertificateSpec),
  },
  {
    description:
      'The desired state of a Sensor: which nodes capture, what they decode and where they report.',
    'x-kubernetes-validations': [
      {
        rule: '!has(self.certificate) || !has(self.certificate.renewBefore) || duration(self.certificate.renewBefore) < duration(self.certificate.duration)',
        message: 'certificate.renewBefore must be shorter than certificate.duration',
      },
    ],
  },
);

export const ConditionSchema = Type.Object({
  type: Type.String({
    description: 'Condition type: Ready, Reconciling, Stalled, CertificateReady or AgentsReady.',
  }),
  status: Type.Union([Type.Literal('True'), Type.Literal('False'), Type.Literal('Unknown')], {
    description: 'True, False or Unknown.',
  }),
  observedGeneration: Type.Optional(
    Type.Integer({ description: 'The .metadata.generation this condition was set from.', minimum: 0 }),
  ),
  lastTransitionTime: Type.String({ description: 'When the status last changed.', format: 'date-time' }),
  reason: Type.String({ description: 'A CamelCase reason for the last transition.', maxLength: 1024 }),
  message: Type.String({ description: 'What a person should know, and do.', maxLength: 32768 }),
});

export const SensorStatus = Type.Object(
  {
    observedGeneration: Type.Integer({
      description: 'The generation last acted on; -1 until the operator has seen this Sensor.',
      default: -1,
    }),
    conditions: Type.Optional(
      Type.Array(ConditionSchema, {
        description: 'The latest observations of the Sensor, in the metav1.Condition shape.',
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['type'],
      }),
    ),
    desiredNodes: Type.Optional(Type.Integer({ description: 'Edge nodes that should run the agent.' })),
    readyNodes: Type.Optional(Type.Integer({ description: 'Edge nodes with a ready agent.' })),
    updatedNodes: Type.Optional(
      Type.Integer({ description: 'Edge nodes running the current agent template.' }),
    ),
    agentVersion: Type.Optional(Type.String({ description: 'The agent version the rollout has reached.' })),
    lastProgressTime: Type.Optional(
      Type.String({
        description:
          'When the rollout last made progress (an agent updated or became ready, or a new rollout began); Stalled is set when it has made none for spec.rollout.progressDeadline.',
        format: 'date-time',
      }),
    ),
    certificate: Type.Optional(
      Type.Object(
        {
          secretName: Type.String({ description: 'The Secret holding the client certificate and key.' }),
          serialNumber: Type.String({ description: 'Serial number of the current certificate (hex).' }),
          notAfter: Type.String({
            description: 'When the current certificate expires.',
            format: 'date-time',
          }),
          renewalTime: Type.String({ description: 'When the operator will renew it.', format: 'date-time' }),
          caSource: Type.Union([Type.Literal('Provided'), Type.Literal('Generated')], {
            description: 'Whether the site CA was provided by the user or generated by the operator.',
          }),
        },
        { description: 'The client certificate currently issued to this sensor.' },
      ),
    ),
  },
  { description: 'The observed state of a Sensor.' },
);

export type SensorSpec = Static<typeof SensorSpec>;
export type SensorStatus = Static<typeof SensorStatus>;
export type Condition = Static<typeof ConditionSchema>;
export type ProtocolFamily = (typeof PROTOCOL_FAMILIES)[number];

export interface Sensor {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND;
  metadata: {
    name: string;
    namespace: string;
    uid?: string;
    generation?: number;
    resourceVersion?: string;
    deletionTimestamp?: string;
    finalizers?: string[];
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec: SensorSpec;
  status?: SensorStatus;
}

export const schemas: Record<string, TSchema> = { SensorSpec, SensorStatus };
