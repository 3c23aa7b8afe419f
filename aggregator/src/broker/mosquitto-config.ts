// Configuration for running Mosquitto as hark's broker, with the same rules
// the embedded broker enforces (identity.ts):
// - only clients with a certificate from the site CA connect
//   (require_certificate, allow_anonymous false);
// - the certificate CN becomes the MQTT username (use_identity_as_username),
//   so one ACL pattern pins each sensor to its own topics: "<site>.<sensor>"
//   is a single topic segment precisely so that %u can name it;
// - only the aggregator's identity reads.
// Two rules Mosquitto cannot express and the aggregator therefore re-checks on
// ingest: the OU role (Mosquitto sees only the CN) and "retain only on status".
import { AGGREGATOR_COMMON_NAME, WIRE_VERSION } from '@hark/contracts/mqtt';
import { DEFAULT_MAX_PACKET_BYTES } from './embedded.js';

export interface MosquittoConfigOptions {
  port: number;
  /** Listener address; omit to listen on all interfaces. */
  host?: string;
  topicPrefix: string;
  /** Paths, as Mosquitto will read them. */
  caFile: string;
  certFile: string;
  keyFile: string;
  aclFile: string;
  /**
   * The site CAs' CRLs (PEM, several may be concatenated). Mosquitto then
   * refuses a client whose certificate is revoked, and also one whose issuer
   * has no CRL in the file; it re-reads the file on SIGHUP.
   */
  crlFile?: string;
  /** Directory for the persistent session store (queued QoS 1 messages survive a broker restart). */
  persistenceDir: string;
  maxPacketBytes?: number;
  /** Started as root, Mosquitto switches to this user (default "mosquitto"); it must be able to read the files above. */
  user?: string;
  /** Where Mosquitto logs: "stderr", "stdout", "syslog" or "file <path>". */
  logDest?: string;
}

export interface MosquittoConfig {
  /** mosquitto.conf */
  conf: string;
  /** The ACL file's content, to be written to `aclFile`. */
  acl: string;
}

function checkValue(name: string, value: string): string {
  // One directive per line: a newline in a value would inject configuration.
  if (/[\r\n]/.test(value)) throw new Error(`${name} must not contain a line break`);
  return value;
}

export function mosquittoAclFor(topicPrefix: string): string {
  checkValue('topicPrefix', topicPrefix);
  const tree = `${topicPrefix}/${WIRE_VERSION}`;
  return [
    '# hark: generated, do not edit.',
    '# Every sensor (username = certificate CN "<site>.<sensor>") writes only under its own identity.',
    `pattern write ${tree}/%u/+/+`,
    '',
    '# The aggregator reads every sensor.',
    `user ${AGGREGATOR_COMMON_NAME}`,
    `topic read ${tree}/#`,
    '',
  ].join('\n');
}

export function mosquittoConfigFor(options: MosquittoConfigOptions): MosquittoConfig {
  const v = (name: keyof MosquittoConfigOptions): string => checkValue(name, String(options[name]));
  const persistenceDir = v('persistenceDir').endsWith('/') ? v('persistenceDir') : `${v('persistenceDir')}/`;
  const lines = [
    '# hark: generated, do not edit.',
    ...(options.user ? [`user ${v('user')}`] : []),
    'per_listener_settings false',
    'allow_anonymous false',
    `acl_file ${v('aclFile')}`,
    '',
    'persistence true',
    `persistence_location ${persistenceDir}`,
    // Write the in-memory store out often enough that a crash loses little.
    'autosave_interval 30',
    '',
    `max_packet_size ${options.maxPacketBytes ?? DEFAULT_MAX_PACKET_BYTES}`,
    // Sensors publish inventory at QoS 1; bound what one offline aggregator session may queue
    // (sensors spool on disk themselves, so this covers an aggregator restart, not a long outage).
    'max_queued_messages 100000',
    // QoS 1 messages in flight to one client at a time: the aggregator acknowledges after a group
    // commit, so a larger window means larger commits and higher throughput.
    'max_inflight_messages 1000',
    '',
    `log_dest ${options.logDest ? v('logDest') : 'stderr'}`,
    'log_type error',
    'log_type warning',
    'log_type notice',
    'log_type information',
    'connection_messages true',
    'log_timestamp_format %Y-%m-%dT%H:%M:%S',
    '',
    options.host ? `listener ${options.port} ${v('host')}` : `listener ${options.port}`,
    'protocol mqtt',
    `cafile ${v('caFile')}`,
    `certfile ${v('certFile')}`,
    `keyfile ${v('keyFile')}`,
    ...(options.crlFile ? [`crlfile ${v('crlFile')}`] : []),
    'require_certificate true',
    'use_identity_as_username true',
    '',
  ];
  return { conf: lines.join('\n'), acl: mosquittoAclFor(options.topicPrefix) };
}
