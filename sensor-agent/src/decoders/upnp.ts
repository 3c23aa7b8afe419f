// UPnP device descriptions (UPnP Device Architecture 2.0 §2.3): what a
// control point fetches from an SSDP LOCATION, and the richest identity a
// consumer or IoT device gives: manufacturer, model name and number, serial
// number, a friendly name, its UDN. Read from the server's HTTP response as
// it passes, segment by segment (no reassembly): the segment where the
// <root> document starts holds the root device's elements; those of
// embedded devices, after <deviceList>, describe other functions and are
// left out. DIAL (Chromecast, Roku) serves the same document.
import type { PacketView } from '../packet/view.js';
import { HTTP_PORTS } from './http.js';
import type { Decoder, ObservationName, ObservationSink } from './types.js';
import { emitForLocalSender, indexOfWithin } from './util.js';

const MAX_DOCUMENT = 16 * 1024;
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
    const value = elementText(doc, element);
    if (value)
      emit(
        name,
        name === 'upnpUuid' ? value.replace(/^uuid:/i, '').toLowerCase() : value,
        confidence,
        element,
      );
  }
  const modelName = elementText(doc, 'modelName');
  const modelNumber = elementText(doc, 'modelNumber');
  // "Roku Express" and "3900X" are one model; a number already in the name is not repeated.
  const model =
    modelName && modelNumber && !modelName.includes(modelNumber)
      ? `${modelName} ${modelNumber}`
      : modelName || modelNumber;
  if (model) emit('model', model, 0.8, modelName ? 'modelName' : 'modelNumber');
}

/** The text of the first <element> (any namespace prefix), XML entities decoded; undefined when absent or empty. */
function elementText(doc: string, element: string): string | undefined {
  const m = new RegExp(`<(?:[\\w-]+:)?${element}>([^<]{1,256})</`).exec(doc);
  if (!m) return undefined;
  const text = m[1]!
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&')
    .trim();
  return text === '' ? undefined : text;
}

const SERVER_PORTS = new Set(HTTP_PORTS);
const H = 0x48;
const LT = 0x3c;

export const upnpDecoder: Decoder = {
  name: 'upnp',
  family: 'tcp',
  keys: HTTP_PORTS,
  // Responses from the device's web server (the sender is the device described): a segment that
  // starts the response, or one that starts with markup (the document in the next segment).
  match: (pkt) => {
    if (!SERVER_PORTS.has(pkt.srcPort) || pkt.payloadEnd - pkt.payloadOffset <= ROOT.length) return false;
    const first = pkt.data[pkt.payloadOffset];
    return first === H || first === LT;
  },
  decode,
};
