// UPnP device descriptions (UPnP Device Architecture 2.0 §2.3): what a
// control point fetches from an SSDP LOCATION, and the richest identity a
// consumer or IoT device gives: manufacturer, model name and number, serial
// number, a friendly name, its UDN. Read from the server's HTTP response,
// gathered whole when it spans segments (httpMessageLength); a segment that
// starts with the document is read too, for a response whose beginning this
// sensor missed. The root device's elements come first; those of embedded
// devices, after <deviceList>, describe other functions and are left out.
// DIAL (Chromecast, Roku) serves the same document.
import type { PacketView } from '../packet/view.js';
import { fromHttpServer, HTTP_PORTS, measureServerResponse } from './http.js';
import type { Decoder, ObservationName, ObservationSink } from './types.js';
import { emitForLocalSender, indexOfWithin, xmlElementText } from './util.js';

const MAX_DOCUMENT = 16 * 1024;
/**
 * Manufacturers that UPnP server software writes into every description it
 * serves, whoever built the device: MiniDLNA, the media server of countless
 * NAS boxes and routers, names its author. Not the device's maker.
 */
const SOFTWARE_MANUFACTURERS = new Set(['Justin Maggard']);
const ROOT = '<root';
const ELEMENTS: readonly [element: string, name: ObservationName, confidence: number][] = [
  ['manufacturer', 'manufacturer', 0.8],
  ['serialNumber', 'serialNumber', 0.8],
  ['friendlyName', 'hostname', 0.55],
  ['deviceType', 'ssdpType', 0.8],
  ['UDN', 'upnpUuid', 0.8],
];

function decode(pkt: PacketView, sink: ObservationSink): void {
  const b = pkt.data;
  const start = indexOfWithin(b, ROOT, pkt.payloadOffset, pkt.payloadEnd);
  if (start < 0) return;
  let doc = b.toString('utf8', start, Math.min(pkt.payloadEnd, start + MAX_DOCUMENT));
  if (!/^<root\b[^>]*urn:schemas-upnp-org:device-1-0/.test(doc)) return;
  const embedded = doc.search(/<deviceList\b/);
  if (embedded >= 0) doc = doc.slice(0, embedded);
  const emit = (name: ObservationName, value: string, confidence: number, element: string) =>
    emitForLocalSender(pkt, sink, 'upnp', name, value, confidence, `device_description.${element}`);
  for (const [element, name, confidence] of ELEMENTS) {
    const value = xmlElementText(doc, element);
    if (name === 'manufacturer' && value && SOFTWARE_MANUFACTURERS.has(value)) continue;
    if (value)
      emit(
        name,
        name === 'upnpUuid' ? value.replace(/^uuid:/i, '').toLowerCase() : value,
        confidence,
        element,
      );
  }
  const modelName = xmlElementText(doc, 'modelName');
  const modelNumber = xmlElementText(doc, 'modelNumber');
  // "Roku Express" and "3900X" are one model; a number already in the name is not repeated.
  const model =
    modelName && modelNumber && !modelName.includes(modelNumber)
      ? `${modelName} ${modelNumber}`
      : modelName || modelNumber;
  if (model) emit('model', model, 0.8, modelName ? 'modelName' : 'modelNumber');
}

const H = 0x48;
const LT = 0x3c;

export const upnpDecoder: Decoder = {
  name: 'upnp',
  family: 'tcp',
  announces: true,
  keys: HTTP_PORTS,
  leadingBytes: [H, LT],
  messageLength: measureServerResponse,
  // Responses from the device's web server (the sender is the device described): a segment that
  // starts the response, or one that starts with markup (the document in the next segment).
  match: (pkt) => {
    if (!fromHttpServer(pkt) || pkt.payloadEnd - pkt.payloadOffset <= ROOT.length) return false;
    const first = pkt.data[pkt.payloadOffset];
    return first === H || first === LT;
  },
  decode,
};
