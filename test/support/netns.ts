// A network namespace with veth pairs into it, for live-capture tests and the
// live-capture benchmark: frames sent from the far ends (inside the namespace)
// arrive on the near ends, which this process created, so nothing is ever
// written to a real interface. Needs root and iproute2.
import { execFileSync } from 'node:child_process';

/** True when `cmd args` runs and exits 0. */
export function commandWorks(cmd: string, args: string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Root, `ip netns`, and each of `tools` (run with --version). */
export function netnsAvailable(...tools: string[]): boolean {
  return (
    process.getuid?.() === 0 &&
    commandWorks('ip', ['netns', 'list']) &&
    tools.every((tool) => commandWorks(tool, ['--version']))
  );
}

export interface VethPair {
  /** In this process's namespace: where the capture listens. */
  near: string;
  /** In the test namespace: where frames are sent from. */
  far: string;
}

export class VethNamespace {
  private constructor(
    readonly name: string,
    readonly pairs: VethPair[],
  ) {}

  /** Creates namespace `<prefix>-<pid>` with `count` veth pairs, all up, IPv6 off on the near ends. */
  static create(prefix: string, count = 1): VethNamespace {
    const tag = process.pid % 100000;
    const name = `${prefix}-${process.pid}`;
    // Interface names have 15 characters at most.
    const pairs = Array.from({ length: count }, (_, i) => ({
      near: `${prefix.slice(0, 4)}${tag}${String.fromCharCode(97 + 2 * i)}`,
      far: `${prefix.slice(0, 4)}${tag}${String.fromCharCode(98 + 2 * i)}`,
    }));
    const ns = new VethNamespace(name, []);
    execFileSync('ip', ['netns', 'add', name]);
    try {
      for (const pair of pairs) {
        execFileSync('ip', ['link', 'add', pair.near, 'type', 'veth', 'peer', 'name', pair.far]);
        ns.pairs.push(pair);
        execFileSync('ip', ['link', 'set', pair.far, 'netns', name]);
        execFileSync('ip', ['link', 'set', pair.near, 'up']);
        ns.exec(['ip', 'link', 'set', pair.far, 'up']);
        // Router solicitations and the like would otherwise add frames of their own.
        execFileSync('sysctl', ['-qw', `net.ipv6.conf.${pair.near}.disable_ipv6=1`]);
      }
    } catch (error) {
      ns.destroy();
      throw error;
    }
    return ns;
  }

  /**
   * Gives the first pair's near end `near` and its far end `far` (IPv4, /24), so hosts on either side can talk.
   * The near end is in this machine's own namespace, where test files run at once: each file takes a /24 of its
   * own (10.78.0 reassembly-live, 10.78.1 ssh, 10.79.1 syslog, 10.80.1 snmpd, 10.82.1 dhcp-clients, 10.83.1
   * modbus-peer, 10.84.1 opcua-peer, 10.85.1 bacnet-peer, 10.86.1 minidlna, 10.87.1 samba, 10.88.1 avahi, 10.89.1
   * kerberos-peer, 10.91.1 lldpd, 10.92.1 enip-peer, 10.93.1 iec104-peer, 10.94.1 wsdd, 10.95.1 ipp-peer, 10.96.1 sip-peer, 10.97.1 s7-peer, 10.98.1 rdp-peer,
   * 10.99.1 dnp3-peer, 10.77.1 knx-peer); two files on one /24 would fight over its route.
   */
  address(near: string, far: string): void {
    const pair = this.pairs[0]!;
    execFileSync('ip', ['addr', 'add', `${near}/24`, 'dev', pair.near]);
    this.exec(['ip', 'addr', 'add', `${far}/24`, 'dev', pair.far]);
  }

  /** The MAC addresses of the first pair's ends. */
  macs(): { near: string; far: string } {
    const pair = this.pairs[0]!;
    return {
      near: execFileSync('cat', [`/sys/class/net/${pair.near}/address`], { encoding: 'utf8' }).trim(),
      far: this.exec(['cat', `/sys/class/net/${pair.far}/address`]).trim(),
    };
  }

  /** Runs a command inside the namespace. */
  exec(command: string[]): string {
    return execFileSync('ip', ['netns', 'exec', this.name, ...command], { encoding: 'utf8' });
  }

  /** Sends an ARP announcement and a DHCPDISCOVER (option 12 `hostname`) from `mac`/`ip` out of `far`,
   * and a UDP frame to port 5001 that a discovery BPF filter must drop. */
  sendDiscovery(far: string, mac: string, ip: string, hostname: string): void {
    this.exec(['python3', '-c', DISCOVERY_SENDER, far, mac, ip, hostname]);
  }

  destroy(): void {
    for (const pair of this.pairs) {
      try {
        execFileSync('ip', ['link', 'del', pair.near], { stdio: 'ignore' });
      } catch {}
    }
    try {
      execFileSync('ip', ['netns', 'del', this.name], { stdio: 'ignore' });
    } catch {}
  }
}

const DISCOVERY_SENDER = `
import socket, struct, sys
iface, mac_text, ip_text, hostname = sys.argv[1:5]
mac = bytes.fromhex(mac_text.replace(':', ''))
ip = socket.inet_aton(ip_text)
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((iface, 0))
bcast = b'\\xff' * 6
arp = bcast + mac + b'\\x08\\x06' + struct.pack('!HHBBH', 1, 0x0800, 6, 4, 1) + mac + ip + b'\\x00' * 6 + ip
s.send(arp + b'\\x00' * 18)
opts = b'\\x63\\x82\\x53\\x63' + b'\\x35\\x01\\x01' + bytes([12, len(hostname)]) + hostname.encode() + b'\\x3c\\x0cudhcp 1.30.1' + b'\\xff'
bootp = struct.pack('!BBBBIHH4s4s4s4s', 1, 1, 6, 0, 0x1234, 0, 0, b'\\0'*4, b'\\0'*4, b'\\0'*4, b'\\0'*4) + mac + b'\\0' * 10 + b'\\0' * 192 + opts
udp = struct.pack('!HHHH', 68, 67, 8 + len(bootp), 0) + bootp
iph = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0, b'\\0'*4, b'\\xff'*4)
s.send(bcast + mac + b'\\x08\\x00' + iph + udp)
udp2 = struct.pack('!HHHH', 5000, 5001, 12, 0) + b'nope'
iph2 = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp2), 2, 0, 64, 17, 0, ip, b'\\xff'*4)
s.send(bcast + bytes.fromhex('020000ffff01') + b'\\x08\\x00' + iph2 + udp2)
`;
