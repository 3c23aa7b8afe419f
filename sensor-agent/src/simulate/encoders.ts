// Frame builders for the simulator, written from the same specifications as
// the decoders (RFC 826, RFC 2131/2132, RFC 6762/6763, UPnP DA, IEEE 802.1AB,
// TIA-1057). They build only what a synthetic site needs. Simulated traffic
// exercises the product end to end; it is never the truth decoders are tested
// against (that is the real captures).
import dnsPacket from 'dns-packet';

export type Mac = Buffer; // 6 bytes
export const BROADCAST: Mac = Buffer.from('ffffffffffff', 'hex');
const LLDP_MULTICAST: Mac = Buffer.from('0180c200000e', 'hex');
const MDNS_MULTICAST: Mac = Buffer.from('01005e0000fb', 'hex');
const SSDP_MULTICAST: Mac = Buffer.from('01005e7ffffa', 'hex');

export function ip4(text: string): Buffer {
  return Buffer.from(text.split('.').map(Number));
}

export function ethernet(dst: Mac, src: Mac, etherType: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(14);
  dst.copy(header, 0);
  src.copy(header, 6);
  header.writeUInt16BE(etherType, 12);
  const frame = Buffer.concat([header, payload]);
  // Ethernet minimum frame (without FCS) is 60 bytes: pad like a NIC would.
  return frame.length >= 60 ? frame : Buffer.concat([frame, Buffer.alloc(60 - frame.length)]);
}

/** The Internet checksum (RFC 1071). */
export function checksum(b: Buffer): number {
  let sum = 0;
  for (let i = 0; i + 1 < b.length; i += 2) sum += b.readUInt16BE(i);
  if (b.length % 2) sum += b[b.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export function ipv4Udp(
  src: string,
  dst: string,
  srcPort: number,
  dstPort: number,
  payload: Buffer,
  ttl = 64,
): Buffer {
  const udp = Buffer.alloc(8);
  udp.writeUInt16BE(srcPort, 0);
  udp.writeUInt16BE(dstPort, 2);
  udp.writeUInt16BE(8 + payload.length, 4);
  // UDP checksum 0 = not computed (allowed over IPv4, RFC 768).
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + 8 + payload.length, 2);
  ip[8] = ttl;
  ip[9] = 17;
  ip4(src).copy(ip, 12);
  ip4(dst).copy(ip, 16);
  ip.writeUInt16BE(checksum(ip), 10);
  return Buffer.concat([ip, udp, payload]);
}

export function arpAnnouncement(mac: Mac, ip: string): Buffer {
  const arp = Buffer.alloc(28);
  arp.writeUInt16BE(1, 0);
  arp.writeUInt16BE(0x0800, 2);
  arp[4] = 6;
  arp[5] = 4;
  arp.writeUInt16BE(1, 6); // request (a gratuitous ARP announces sender = target)
  mac.copy(arp, 8);
  ip4(ip).copy(arp, 14);
  ip4(ip).copy(arp, 24);
  return ethernet(BROADCAST, mac, 0x0806, arp);
}

export interface DhcpRequestOptions {
  mac: Mac;
  xid: number;
  messageType: 1 | 3; // DISCOVER, REQUEST
  hostname?: string;
  vendorClass?: string;
  parameterList?: number[];
  requestedIp?: string;
}

export function dhcpClient(o: DhcpRequestOptions): Buffer {
  const fixed = Buffer.alloc(240);
  fixed[0] = 1;
  fixed[1] = 1;
  fixed[2] = 6;
  fixed.writeUInt32BE(o.xid, 4);
  o.mac.copy(fixed, 28);
  fixed.writeUInt32BE(0x63825363, 236);
  const opts: Buffer[] = [Buffer.from([53, 1, o.messageType])];
  opts.push(Buffer.from([61, 7, 1, ...o.mac]));
  if (o.requestedIp) opts.push(Buffer.from([50, 4, ...ip4(o.requestedIp)]));
  if (o.hostname) opts.push(option(12, Buffer.from(o.hostname)));
  if (o.vendorClass) opts.push(option(60, Buffer.from(o.vendorClass)));
  if (o.parameterList) opts.push(option(55, Buffer.from(o.parameterList)));
  opts.push(Buffer.from([255]));
  const payload = Buffer.concat([fixed, ...opts]);
  return ethernet(BROADCAST, o.mac, 0x0800, ipv4Udp('0.0.0.0', '255.255.255.255', 68, 67, payload));
}

export function dhcpAck(server: Mac, serverIp: string, client: Mac, xid: number, yiaddr: string): Buffer {
  const fixed = Buffer.alloc(240);
  fixed[0] = 2;
  fixed[1] = 1;
  fixed[2] = 6;
  fixed.writeUInt32BE(xid, 4);
  ip4(yiaddr).copy(fixed, 16);
  ip4(serverIp).copy(fixed, 20);
  client.copy(fixed, 28);
  fixed.writeUInt32BE(0x63825363, 236);
  const opts = Buffer.concat([
    Buffer.from([53, 1, 5]),
    Buffer.from([54, 4, ...ip4(serverIp)]),
    Buffer.from([51, 4, 0, 1, 0x51, 0x80]),
    Buffer.from([1, 4, 255, 255, 255, 0]),
    Buffer.from([255]),
  ]);
  return ethernet(client, server, 0x0800, ipv4Udp(serverIp, yiaddr, 67, 68, Buffer.concat([fixed, opts])));
}

function option(code: number, value: Buffer): Buffer {
  return Buffer.concat([Buffer.from([code, value.length]), value.subarray(0, 255)]);
}

export interface MdnsService {
  instance: string;
  type: string; // e.g. _ipp._tcp
  port: number;
  txt: Record<string, string>;
}

export function mdnsAnnouncement(mac: Mac, ip: string, host: string, services: MdnsService[]): Buffer {
  const hostName = `${host}.local`;
  const answers: dnsPacket.Answer[] = [{ type: 'A', name: hostName, ttl: 120, data: ip }];
  for (const s of services) {
    const full = `${s.instance}.${s.type}.local`;
    answers.push({ type: 'PTR', name: `${s.type}.local`, ttl: 4500, data: full });
    answers.push({
      type: 'SRV',
      name: full,
      ttl: 120,
      data: { port: s.port, target: hostName, priority: 0, weight: 0 },
    });
    answers.push({
      type: 'TXT',
      name: full,
      ttl: 4500,
      data: Object.entries(s.txt).map(([k, v]) => `${k}=${v}`),
    });
  }
  const payload = dnsPacket.encode({
    type: 'response',
    id: 0,
    flags: dnsPacket.AUTHORITATIVE_ANSWER,
    answers,
  });
  return ethernet(MDNS_MULTICAST, mac, 0x0800, ipv4Udp(ip, '224.0.0.251', 5353, 5353, payload, 255));
}

export function ssdpNotify(mac: Mac, ip: string, server: string, deviceType: string, uuid: string): Buffer {
  const text = [
    'NOTIFY * HTTP/1.1',
    'HOST: 239.255.255.250:1900',
    'CACHE-CONTROL: max-age=1800',
    `LOCATION: http://${ip}:80/description.xml`,
    `NT: ${deviceType}`,
    'NTS: ssdp:alive',
    `SERVER: ${server}`,
    `USN: uuid:${uuid}::${deviceType}`,
    '',
    '',
  ].join('\r\n');
  return ethernet(
    SSDP_MULTICAST,
    mac,
    0x0800,
    ipv4Udp(ip, '239.255.255.250', 1900, 1900, Buffer.from(text), 4),
  );
}

export interface LldpOptions {
  chassis: Mac;
  port: string;
  systemName: string;
  systemDescription: string;
  /** 802.1AB capability bits (0x0004 bridge, 0x0010 router, 0x0020 telephone...). */
  capabilities: number;
  managementIp?: string;
  med?: {
    hardware?: string;
    firmware?: string;
    software?: string;
    serial?: string;
    manufacturer?: string;
    model?: string;
  };
}

export function lldp(src: Mac, o: LldpOptions): Buffer {
  const tlvs: Buffer[] = [
    tlv(1, Buffer.concat([Buffer.from([4]), o.chassis])),
    tlv(2, Buffer.concat([Buffer.from([5]), Buffer.from(o.port)])),
    tlv(3, Buffer.from([0, 120])),
    tlv(5, Buffer.from(o.systemName)),
    tlv(6, Buffer.from(o.systemDescription)),
  ];
  const caps = Buffer.alloc(4);
  caps.writeUInt16BE(o.capabilities, 0);
  caps.writeUInt16BE(o.capabilities, 2);
  tlvs.push(tlv(7, caps));
  if (o.managementIp) {
    tlvs.push(
      tlv(8, Buffer.concat([Buffer.from([5, 1]), ip4(o.managementIp), Buffer.from([2, 0, 0, 0, 1, 0])])),
    );
  }
  const med = o.med ?? {};
  const inventory: [number, string | undefined][] = [
    [5, med.hardware],
    [6, med.firmware],
    [7, med.software],
    [8, med.serial],
    [9, med.manufacturer],
    [10, med.model],
  ];
  for (const [subtype, value] of inventory) {
    if (value)
      tlvs.push(tlv(127, Buffer.concat([Buffer.from([0x00, 0x12, 0xbb, subtype]), Buffer.from(value)])));
  }
  tlvs.push(tlv(0, Buffer.alloc(0)));
  return ethernet(LLDP_MULTICAST, src, 0x88cc, Buffer.concat(tlvs));
}

function tlv(type: number, value: Buffer): Buffer {
  const h = Buffer.alloc(2);
  h.writeUInt16BE((type << 9) | value.length, 0);
  return Buffer.concat([h, value]);
}

/** A NetBIOS name, first-level encoded (RFC 1001 §14.1): 15 characters space-padded, a suffix byte, each nibble + 'A'. */
function netbiosName(name: string, suffix: number): Buffer {
  const raw = Buffer.concat([
    Buffer.from(name.toUpperCase().padEnd(15, ' ').slice(0, 15), 'latin1'),
    Buffer.from([suffix]),
  ]);
  const out = Buffer.alloc(34);
  out[0] = 32;
  for (let i = 0; i < 16; i++) {
    out[1 + i * 2] = 0x41 + (raw[i]! >> 4);
    out[2 + i * 2] = 0x41 + (raw[i]! & 0x0f);
  }
  return out; // the final byte (0) ends the name
}

/**
 * A Windows browser HostAnnouncement (MS-BRWS §2.2.1) in an SMB mailslot
 * transaction (MS-SMB §2.2.4.33) in a NetBIOS broadcast datagram (RFC 1002
 * §4.4.2), from UDP 138 to the subnet broadcast.
 */
export function browserHostAnnouncement(
  mac: Mac,
  ip: string,
  name: string,
  os: [major: number, minor: number],
  serverType: number,
  broadcastIp: string,
): Buffer {
  const announcement = Buffer.alloc(32 + 1);
  announcement[0] = 0x01; // HostAnnouncement
  announcement.writeUInt32LE(720_000, 2); // periodicity, ms
  announcement.write(name.toUpperCase().slice(0, 15), 6, 'latin1');
  announcement[22] = os[0];
  announcement[23] = os[1];
  announcement.writeUInt32LE(serverType, 24);
  announcement[28] = 15; // browser version 15.1
  announcement[29] = 1;
  announcement.writeUInt16LE(0xaa55, 30);
  const mailslot = Buffer.from('\\MAILSLOT\\BROWSE\0', 'latin1');
  const smb = Buffer.alloc(32 + 1 + 17 * 2 + 2);
  smb.writeUInt32BE(0xff534d42, 0);
  smb[4] = 0x25; // SMB_COM_TRANSACTION
  smb[32] = 17; // word count: 14 + 3 setup words
  const words = 33;
  const dataOffset = smb.length + mailslot.length;
  smb.writeUInt16LE(announcement.length, words + 2); // total data count
  smb.writeUInt16LE(announcement.length, words + 22); // data count
  smb.writeUInt16LE(dataOffset, words + 24); // data offset (from the SMB header)
  smb[words + 26] = 3; // setup count
  smb.writeUInt16LE(1, words + 28); // mailslot write
  smb.writeUInt16LE(1, words + 30); // priority
  smb.writeUInt16LE(2, words + 32); // class 2 (unreliable)
  smb.writeUInt16LE(mailslot.length + announcement.length, words + 34); // byte count
  const smbMessage = Buffer.concat([smb, mailslot, announcement]);
  const header = Buffer.alloc(14);
  header[0] = 0x11; // DIRECT_GROUP
  header[1] = 0x02; // first fragment, B node
  header.writeUInt16BE(1, 2);
  ip4(ip).copy(header, 4);
  header.writeUInt16BE(138, 8);
  const names = Buffer.concat([netbiosName(name, 0x00), netbiosName('WORKGROUP', 0x1d)]);
  header.writeUInt16BE(names.length + smbMessage.length, 10);
  const datagram = Buffer.concat([header, names, smbMessage]);
  return ethernet(BROADCAST, mac, 0x0800, ipv4Udp(ip, broadcastIp, 138, 138, datagram, 128));
}

/** An RSTP BPDU (IEEE 802.1D-2004 §9.3.3) from a switch port, 802.3 with LLC 42 42 03. */
export function rstpBpdu(portMac: Mac, bridgeMac: Mac, rootMac: Mac, portId: number): Buffer {
  const bpdu = Buffer.alloc(36);
  bpdu[2] = 2; // RSTP
  bpdu[3] = 0x02; // RST BPDU
  bpdu[4] = 0x3c; // forwarding, learning, designated port
  bpdu.writeUInt16BE(0x8000, 5);
  rootMac.copy(bpdu, 7);
  bpdu.writeUInt32BE(rootMac.equals(bridgeMac) ? 0 : 20_000, 13);
  bpdu.writeUInt16BE(0x8000, 17);
  bridgeMac.copy(bpdu, 19);
  bpdu.writeUInt16BE(portId, 25);
  bpdu.writeUInt16BE(20 * 256, 29); // max age 20 s
  bpdu.writeUInt16BE(2 * 256, 31); // hello 2 s
  bpdu.writeUInt16BE(15 * 256, 33); // forward delay 15 s
  const llc = Buffer.concat([Buffer.from([0x42, 0x42, 0x03]), bpdu]);
  const header = Buffer.alloc(14);
  Buffer.from('0180c2000000', 'hex').copy(header, 0);
  portMac.copy(header, 6);
  header.writeUInt16BE(llc.length, 12); // 802.3: a length, not an EtherType
  const frame = Buffer.concat([header, llc]);
  return frame.length >= 60 ? frame : Buffer.concat([frame, Buffer.alloc(60 - frame.length)]);
}

/** A VRRPv3 advertisement (RFC 5798 §5.1) from the master, sent from the virtual router MAC. */
export function vrrpAdvertisement(realIp: string, vrid: number, virtualIp: string): Buffer {
  const vrrp = Buffer.alloc(12);
  vrrp[0] = 0x31; // version 3, advertisement
  vrrp[1] = vrid;
  vrrp[2] = 100;
  vrrp[3] = 1;
  vrrp.writeUInt16BE(100, 4); // max advertisement interval, centiseconds
  ip4(virtualIp).copy(vrrp, 8);
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + vrrp.length, 2);
  ip[8] = 255;
  ip[9] = 112;
  ip4(realIp).copy(ip, 12);
  ip4('224.0.0.18').copy(ip, 16);
  ip.writeUInt16BE(checksum(ip), 10);
  // The checksum covers an IPv4 pseudo-header in v3 (RFC 5798 §5.2.8).
  const pseudo = Buffer.concat([ip4(realIp), ip4('224.0.0.18'), Buffer.from([0, 112, 0, vrrp.length]), vrrp]);
  vrrp.writeUInt16BE(checksum(pseudo), 6);
  const virtualMac = Buffer.from([0x00, 0x00, 0x5e, 0x00, 0x01, vrid]);
  return ethernet(Buffer.from('01005e000012', 'hex'), virtualMac, 0x0800, Buffer.concat([ip, vrrp]));
}
