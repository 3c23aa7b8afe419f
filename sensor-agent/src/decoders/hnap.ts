// HNAP, the Home Network Administration Protocol (Pure Networks, then
// Cisco; "HNAP 1.2" white paper): SOAP over HTTP on the device's own web
// server, namespace http://purenetworks.com/HNAP1/. Phone apps and setup
// wizards ask a D-Link camera, router or plug (and Linksys/Cisco consumer
// routers) for GetDeviceSettings; the answer names the vendor, the model, a
// description of what it is, and the firmware version. Read from the
// server's HTTP response, gathered whole when it spans segments
// (httpMessageLength). The request names nothing the answer does not.
import type { PacketView } from '../packet/view.js';
import { beginsServerResponse, HTTP_PORTS, measureServerResponse, SERVER_RESPONSE_LEADS } from './http.js';
import type { Decoder, ObservationName, ObservationSink } from './types.js';
import { emitForLocalSender, indexOfWithin, xmlElementText } from './util.js';

const NAMESPACE = 'purenetworks.com/HNAP1/';
const RESPONSE = 'GetDeviceSettingsResponse';
const MAX_DOCUMENT = 16 * 1024;
/** GetDeviceSettingsResult elements, what each tells, and how sure it is. */
const ELEMENTS: readonly [element: string, name: ObservationName, confidence: number][] = [
  ['VendorName', 'manufacturer', 0.85],
  ['ModelName', 'model', 0.85],
  ['FirmwareVersion', 'firmwareVersion', 0.85],
  // What the device is, in words ("Wireless Internet Camera"): classification reads it.
  ['ModelDescription', 'systemDescription', 0.8],
  // A name the owner may change; it defaults to the model.
  ['DeviceName', 'hostname', 0.5],
];

function decode(pkt: PacketView, sink: ObservationSink): void {
  const b = pkt.data;
  const end = Math.min(pkt.payloadEnd, pkt.payloadOffset + MAX_DOCUMENT);
  const at = indexOfWithin(b, RESPONSE, pkt.payloadOffset, end);
  if (at < 0) return;
  const doc = b.toString('utf8', at, end);
  if (!doc.slice(0, 200).includes(NAMESPACE)) return;
  for (const [element, name, confidence] of ELEMENTS) {
    const value = xmlElementText(doc, element);
    if (value) emitForLocalSender(pkt, sink, 'hnap', name, value, confidence, `${RESPONSE}.${element}`);
  }
}

export const hnapDecoder: Decoder = {
  name: 'hnap',
  family: 'tcp',
  announces: true,
  keys: HTTP_PORTS,
  leadingBytes: SERVER_RESPONSE_LEADS,
  messageLength: measureServerResponse,
  // A response from the device's web server (the sender is the device that answers).
  match: beginsServerResponse,
  decode,
};
