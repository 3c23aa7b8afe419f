// WS-Discovery's second half: the metadata a client fetches from the XAddrs
// a Hello or ProbeMatch gave (a WS-Transfer Get answered over HTTP, Devices
// Profile for Web Services 2006/02 §5). Windows asks every host, printer,
// scanner and camera that announces itself; the answer's ThisModel
// (Manufacturer, ModelName, ModelNumber) and ThisDevice (FriendlyName,
// FirmwareVersion, SerialNumber) sections are the device's own identity, and
// a computer's host relationship names it (pub:Computer, "NAME/Workgroup:WG"
// or "NAME/Domain:example.com", MS-PBSD). Read from the server's HTTP
// response, gathered whole when it spans segments (httpMessageLength).
import type { PacketView } from '../packet/view.js';
import { beginsServerResponse, HTTP_PORTS, measureServerResponse, SERVER_RESPONSE_LEADS } from './http.js';
import type { Decoder, ObservationName, ObservationSink } from './types.js';
import { emitForLocalSender, indexOfWithin, xmlElementText } from './util.js';
import { elementPattern } from './wsd.js';

const DEVPROF = 'schemas.xmlsoap.org/ws/2006/02/devprof';
const MAX_DOCUMENT = 32 * 1024;
/**
 * Manufacturers that WS-Discovery host software writes, with a constant
 * model, firmware (1.0) and serial number (1), into the metadata of whatever
 * Linux, BSD or macOS machine runs it: wsdd (Samba's usual companion) and
 * wsdd-native. Not the device's identity; the computer name still is.
 */
const SOFTWARE_MANUFACTURERS = new Set(['wsdd', 'wsddn']);
const DEVICE_ELEMENTS: readonly [element: string, name: ObservationName, confidence: number][] = [
  ['Manufacturer', 'manufacturer', 0.8],
  ['SerialNumber', 'serialNumber', 0.8],
  ['FirmwareVersion', 'firmwareVersion', 0.7],
  // A name the owner may change; printers default it to the model and a serial or address.
  ['FriendlyName', 'hostname', 0.5],
];
const COMPUTER = /^([^/\s]{1,63})\/(?:Workgroup|Domain):/;
/** Every Types element: the host's own (pub:Computer) and its hosted services' (a printer's PrinterServiceType). */
const TYPES = elementPattern('Types', 'g');

function decode(pkt: PacketView, sink: ObservationSink): void {
  const b = pkt.data;
  const end = Math.min(pkt.payloadEnd, pkt.payloadOffset + MAX_DOCUMENT);
  const at = indexOfWithin(b, DEVPROF, pkt.payloadOffset, end);
  if (at < 0) return;
  const doc = b.toString('utf8', at, end);
  const emit = (name: ObservationName, value: string, confidence: number, field: string) =>
    emitForLocalSender(pkt, sink, 'wsd', name, value, confidence, `metadata.${field}`);
  const manufacturer = xmlElementText(doc, 'Manufacturer');
  if (!(manufacturer && SOFTWARE_MANUFACTURERS.has(manufacturer.toLowerCase()))) {
    for (const [element, name, confidence] of DEVICE_ELEMENTS) {
      const value = xmlElementText(doc, element);
      if (value) emit(name, value, confidence, element);
    }
    const modelName = xmlElementText(doc, 'ModelName');
    const modelNumber = xmlElementText(doc, 'ModelNumber');
    // A number already in the name is not repeated ("HP LaserJet M404dn" and "M404dn").
    const model =
      modelName && modelNumber && !modelName.includes(modelNumber)
        ? `${modelName} ${modelNumber}`
        : modelName || modelNumber;
    if (model) emit('model', model, 0.8, modelName ? 'ModelName' : 'ModelNumber');
  }
  const computer = COMPUTER.exec(xmlElementText(doc, 'Computer') ?? '');
  if (computer) emit('hostname', computer[1]!, 0.7, 'Computer');
  const types = new Set<string>();
  for (const m of doc.matchAll(TYPES)) for (const t of m[1]!.trim().split(/\s+/)) types.add(t);
  if (types.size > 0) emit('wsdTypes', [...types].join(' '), 0.85, 'Types');
}

export const wsdMetadataDecoder: Decoder = {
  name: 'wsd',
  family: 'tcp',
  announces: true,
  keys: HTTP_PORTS,
  leadingBytes: SERVER_RESPONSE_LEADS,
  messageLength: measureServerResponse,
  // A response from the device's web server (the sender is the device described).
  match: beginsServerResponse,
  decode,
};
