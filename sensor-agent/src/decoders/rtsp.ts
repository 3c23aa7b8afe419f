// RTSP (RFC 2326 and RFC 7826): how video is pulled from IP cameras,
// encoders and NVRs. Its heads are HTTP's syntax with RTSP's own start
// lines. The side that answers on 554 (or 8554) serves streams, which on a
// site network is overwhelmingly a camera, unless its Server header names a
// general-purpose streaming server (VLC, GStreamer, MediaMTX, Wowza...);
// the side that asks is a viewer, a recorder or a VMS. Server and
// User-Agent name the software on each side.
import type { PacketView } from '../packet/view.js';
import type { Decoder, ObservationSink } from './types.js';
import { emitForLocalSender, headerFields, leadingBytesOf } from './util.js';

const RTSP_PORTS = [554, 8554];
const MAX_HEAD = 2048;
const HEADERS: ReadonlySet<string> = new Set(['server', 'user-agent']);
/** Request methods (RFC 2326 §10, RFC 7826 §13) and "RTSP" as the first four bytes. */
const STARTS = new Set(
  ['RTSP', 'OPTI', 'DESC', 'SETU', 'PLAY', 'PAUS', 'TEAR', 'GET_', 'SET_', 'ANNO', 'RECO', 'REDI'].map((s) =>
    Buffer.from(s).readUInt32BE(0),
  ),
);
const REQUEST_LINE = /^[A-Z_]+ \S+ RTSP\/[12]\.\d\r?\n/;

export const rtspDecoder: Decoder = {
  name: 'rtsp',
  family: 'tcp',
  announces: true,
  keys: RTSP_PORTS,
  leadingBytes: leadingBytesOf(STARTS),
  match: (pkt) =>
    pkt.payloadEnd - pkt.payloadOffset >= 12 && STARTS.has(pkt.data.readUInt32BE(pkt.payloadOffset)),
  decode(pkt: PacketView, sink: ObservationSink): void {
    const end = Math.min(pkt.payloadEnd, pkt.payloadOffset + MAX_HEAD);
    const head = pkt.data.toString('latin1', pkt.payloadOffset, end);
    const response = /^RTSP\/[12]\.\d \d{3}/.test(head);
    if (!response && !REQUEST_LINE.test(head)) throw new RangeError('not an RTSP start line');
    // Roles from the ports: an answer from an RTSP port, or a request to one.
    const serving = response ? RTSP_PORTS.includes(pkt.srcPort) : false;
    const asking = !response && RTSP_PORTS.includes(pkt.dstPort);
    if (serving) emitForLocalSender(pkt, sink, 'rtsp', 'role', 'rtsp:server', 0.8, 'response.status_line');
    if (asking) emitForLocalSender(pkt, sink, 'rtsp', 'role', 'rtsp:client', 0.8, 'request.request_line');
    for (const [name, value] of headerFields(head, HEADERS)) {
      if (name === 'server' && response)
        emitForLocalSender(pkt, sink, 'rtsp', 'rtspServer', value, 0.8, 'response.server');
      else if (name === 'user-agent' && !response)
        emitForLocalSender(pkt, sink, 'rtsp', 'userAgent', value, 0.8, 'request.user_agent');
    }
  },
};
