// The fleet: which sensors exist, on which nodes, and whether they are
// healthy. Built only from what sensors publish: heartbeats (periodic health
// and capture statistics) and the retained status message (online, or the
// broker's last-will "offline" when a connection drops). Kept in the
// aggregator's compacted state, so a restart lists the fleet at once.
import type { CaptureStats, HeartbeatMessage, StatusMessage } from '@hark/contracts/mqtt';

export type Health = 'online' | 'stale' | 'offline' | 'unknown';

export interface SensorNode {
  node: string;
  health: Health;
  /** From the latest status message; undefined before one arrives. */
  online?: boolean;
  statusAt?: string;
  lastHeartbeat?: string;
  agentVersion?: string;
  runId?: string;
  uptimeSeconds?: number;
  devices?: number;
  spoolDepth?: number;
  capture?: CaptureStats;
  certificateNotAfter?: string;
}

export interface Sensor {
  /** "<site>.<sensor>", the certificate CN. */
  id: string;
  site: string;
  sensor: string;
  health: Health;
  nodes: SensorNode[];
  lastHeartbeat?: string;
  /** The earliest expiry among the nodes' certificates: the one to renew first. */
  certificateNotAfter?: string;
  agentVersions: string[];
  capture: CaptureStats;
}

interface NodeState {
  online?: boolean;
  statusAt?: string;
  heartbeat?: HeartbeatMessage;
  heartbeatAt?: number;
}

/** One sensor node as the aggregator's saved state holds it. */
export interface StoredNode extends NodeState {
  site: string;
  sensor: string;
  node: string;
}

export interface FleetOptions {
  /** A node whose last heartbeat is older than this is stale. */
  staleAfterMs: number;
  now?: () => number;
}

const ZERO_STATS: CaptureStats = { packets: 0, bytes: 0, malformed: 0, kernelDrops: 0, agentDrops: 0 };

export class FleetRegistry {
  private readonly sensors = new Map<
    string,
    { site: string; sensor: string; nodes: Map<string, NodeState> }
  >();
  private readonly now: () => number;

  constructor(private readonly options: FleetOptions) {
    this.now = options.now ?? Date.now;
  }

  private node(origin: { site: string; sensor: string; node: string }): NodeState {
    const id = `${origin.site}.${origin.sensor}`;
    let sensor = this.sensors.get(id);
    if (!sensor) {
      sensor = { site: origin.site, sensor: origin.sensor, nodes: new Map() };
      this.sensors.set(id, sensor);
    }
    let node = sensor.nodes.get(origin.node);
    if (!node) {
      node = {};
      sensor.nodes.set(origin.node, node);
    }
    return node;
  }

  recordHeartbeat(origin: { site: string; sensor: string; node: string }, message: HeartbeatMessage): void {
    const node = this.node(origin);
    // Staleness is judged by when the aggregator received it, not the sensor's clock.
    node.heartbeat = message;
    node.heartbeatAt = this.now();
    // A heartbeat is proof of life even if the retained status was lost.
    node.online = true;
  }

  recordStatus(origin: { site: string; sensor: string; node: string }, message: StatusMessage): void {
    const node = this.node(origin);
    // Retained status can be replayed after newer news; keep the latest by the sender's clock.
    // A connection's online status and its last will carry the same time (the connection's):
    // at a tie, offline wins, since the will can only follow the online status.
    if (node.statusAt) {
      const previous = Date.parse(node.statusAt);
      const sent = Date.parse(message.sentAt);
      if (sent < previous || (sent === previous && message.online)) return;
    }
    node.online = message.online;
    node.statusAt = message.sentAt;
  }

  /** Notes that an inventory message arrived, so a sensor is listed before its first heartbeat. */
  recordSeen(origin: { site: string; sensor: string; node: string }): void {
    this.node(origin);
  }

  private nodeHealth(state: NodeState): Health {
    if (state.online === false) return 'offline';
    if (state.heartbeatAt === undefined) return state.online ? 'online' : 'unknown';
    return this.now() - state.heartbeatAt > this.options.staleAfterMs ? 'stale' : 'online';
  }

  list(site?: string): Sensor[] {
    const out: Sensor[] = [];
    for (const [id, entry] of this.sensors) {
      if (site && entry.site !== site) continue;
      const nodes: SensorNode[] = [...entry.nodes].map(([name, state]) => {
        const hb = state.heartbeat;
        return {
          node: name,
          health: this.nodeHealth(state),
          ...(state.online !== undefined ? { online: state.online } : {}),
          ...(state.statusAt ? { statusAt: state.statusAt } : {}),
          ...(hb
            ? {
                lastHeartbeat: new Date(state.heartbeatAt!).toISOString(),
                agentVersion: hb.agentVersion,
                runId: hb.runId,
                uptimeSeconds: hb.uptimeSeconds,
                devices: hb.devices,
                spoolDepth: hb.spoolDepth,
                capture: hb.capture,
                ...(hb.certificateNotAfter ? { certificateNotAfter: hb.certificateNotAfter } : {}),
              }
            : {}),
        };
      });
      nodes.sort((a, b) => a.node.localeCompare(b.node));
      out.push(summarize(id, entry.site, entry.sensor, nodes));
    }
    return out.sort((a, b) => a.id.localeCompare(b.id));
  }

  /** Every node, as plain data (the aggregator's compacted state). */
  exportState(): StoredNode[] {
    const out: StoredNode[] = [];
    for (const entry of this.sensors.values())
      for (const [node, state] of entry.nodes)
        out.push({ site: entry.site, sensor: entry.sensor, node, ...state });
    return out;
  }

  /**
   * Restores what exportState returned, keeping only the sites `owns`
   * (every site without it). A node keeps its last heartbeat's time, so one
   * silent since before a restart shows stale, not online.
   */
  importState(nodes: readonly StoredNode[] | undefined, owns?: (site: string) => boolean): void {
    for (const { site, sensor, node, ...state } of nodes ?? []) {
      if (owns && !owns(site)) continue;
      Object.assign(this.node({ site, sensor, node }), state);
    }
  }

  get(id: string): Sensor | undefined {
    const entry = this.sensors.get(id);
    return entry ? this.list(entry.site).find((s) => s.id === id) : undefined;
  }
}

const HEALTH_ORDER: Health[] = ['online', 'stale', 'offline', 'unknown'];

function summarize(id: string, site: string, sensor: string, nodes: SensorNode[]): Sensor {
  // A sensor is as healthy as its healthiest node: it still captures somewhere.
  // The per-node list shows which nodes are not.
  const health = HEALTH_ORDER.find((h) => nodes.some((n) => n.health === h)) ?? 'unknown';
  const heartbeats = nodes.map((n) => n.lastHeartbeat).filter((t): t is string => !!t);
  const expiries = nodes.map((n) => n.certificateNotAfter).filter((t): t is string => !!t);
  const capture = { ...ZERO_STATS };
  for (const n of nodes) {
    if (!n.capture) continue;
    for (const key of Object.keys(capture) as (keyof CaptureStats)[]) capture[key] += n.capture[key];
  }
  return {
    id,
    site,
    sensor,
    health,
    nodes,
    ...(heartbeats.length ? { lastHeartbeat: heartbeats.sort().at(-1)! } : {}),
    ...(expiries.length
      ? { certificateNotAfter: expiries.sort((a, b) => Date.parse(a) - Date.parse(b))[0]! }
      : {}),
    agentVersions: [...new Set(nodes.map((n) => n.agentVersion).filter((v): v is string => !!v))].sort(),
    capture,
  };
}
