// OS and model hints from HTTP/SIP product tokens (RFC 9110 §10.1.5 User-Agent,
// §10.2.4 Server) and their comments. Free text that anyone can set: low confidence (0.3-0.4).

export interface AgentFacts {
  os?: string;
  model?: string;
}

/** IIS ships with its Windows release, one version each; servers run it far more than desktops do. */
const IIS_WINDOWS: Record<string, string> = {
  '10.0': 'Windows Server 2016 or later',
  '8.5': 'Windows Server 2012 R2',
  '8.0': 'Windows Server 2012',
  '7.5': 'Windows Server 2008 R2',
  '7.0': 'Windows Server 2008',
  '6.0': 'Windows Server 2003',
  '5.1': 'Windows XP',
  '5.0': 'Windows 2000',
};

/**
 * Linux distributions, as products built by them name them in a product
 * comment ("Apache/2.4.62 (Debian)") or as a first token ("Debian
 * DLNADOC/1.50 UPnP/1.0 MiniDLNA/1.3.0"), spelt as they spell themselves.
 */
const LINUX_DISTRIBUTIONS = new Map(
  [
    'Debian',
    'Ubuntu',
    'Raspbian',
    'Fedora',
    'CentOS',
    'Red Hat',
    'Red Hat Enterprise Linux',
    'Rocky Linux',
    'AlmaLinux',
    'Oracle Linux',
    'Amazon Linux',
    'openSUSE',
    'SUSE',
    'Alpine',
    'Gentoo',
    'Arch Linux',
    'OpenWrt',
  ].map((d) => [d.toLowerCase(), d]),
);

/** The distribution `name` is one of, as it spells itself; undefined when it is none. */
export function linuxDistribution(name: string): string | undefined {
  return LINUX_DISTRIBUTIONS.get(name.trim().toLowerCase());
}

const WINDOWS_NT: Record<string, string> = {
  '10.0': 'Windows 10/11',
  '6.3': 'Windows 8.1',
  '6.2': 'Windows 8',
  '6.1': 'Windows 7',
  '6.0': 'Windows Vista',
  '5.1': 'Windows XP',
};

/**
 * libcups' own User-Agent, sent by every CUPS client (lp, print dialogs,
 * cups-browsed) and server: "CUPS/<version> (<uname -s> <uname -r>;
 * <uname -m>) IPP/2.0", or "(Windows <major>.<minor>; <arch>)" on Windows
 * (cupsSetUserAgent, CUPS 1.7 on). Apple's builds may say "macOS <version>".
 */
const CUPS_AGENT = /^CUPS\/\S+ \((\w+) ([^;)]*);/;

function cupsOs(system: string, release: string): string | undefined {
  if (system === 'Linux') return 'Linux';
  if (system === 'Darwin') return 'macOS';
  if (system === 'macOS') return `macOS ${release}`;
  if (system === 'Windows') return WINDOWS_NT[release] ?? 'Windows';
  if (/^(?:FreeBSD|OpenBSD|NetBSD)$/.test(system)) return system;
  return undefined;
}

export function parseUserAgent(ua: string): AgentFacts {
  const cups = CUPS_AGENT.exec(ua);
  if (cups) {
    const os = cupsOs(cups[1]!, cups[2]!);
    return os ? { os } : {};
  }
  const android = /Android ([\d.]+)(?:; ([^;)]+?))?(?: Build\/| MIUI\/|\)|;)/.exec(ua);
  if (android) {
    const model = android[2]?.trim();
    const facts: AgentFacts = { os: `Android ${android[1]}` };
    if (model && !/^(U|wv|[a-z]{2}[-_][A-Za-z]{2})$/.test(model)) facts.model = model;
    return facts;
  }
  const ios = /(?:iPhone|CPU) OS (\d+)[_.](\d+)/.exec(ua);
  if (ios) return { os: `iOS ${ios[1]}.${ios[2]}` };
  const mac = /Mac OS X (\d+)[_.](\d+)(?:[_.](\d+))?/.exec(ua);
  if (mac) return { os: `macOS ${mac[1]}.${mac[2]}${mac[3] ? `.${mac[3]}` : ''}` };
  if (/\bMac OS X\b/.test(ua)) return { os: 'macOS' };
  const nt = /Windows NT (\d+\.\d+)/.exec(ua);
  if (nt) return { os: WINDOWS_NT[nt[1]!] ?? `Windows NT ${nt[1]}` };
  // Windows' own HTTP clients: certificate fetches carry the NT version, connectivity probes only the name.
  const cryptoApi = /^Microsoft-CryptoAPI\/(\d+\.\d+)/.exec(ua);
  if (cryptoApi) return { os: WINDOWS_NT[cryptoApi[1]!] ?? `Windows NT ${cryptoApi[1]}` };
  if (
    /\bWindows\b|^Microsoft NCSI$|^Microsoft-(?:Delivery-Optimization|WNS)\b|^Windows-Update-Agent\b/.test(ua)
  )
    return { os: 'Windows' };
  const iis = /^Microsoft-IIS\/(\d+\.\d+)/.exec(ua);
  if (iis) return { os: IIS_WINDOWS[iis[1]!] ?? 'Windows Server' };
  // HTTP.sys, the kernel's HTTP server: WinRM, WSD, SSDP's description server, IIS Express.
  if (/^Microsoft-HTTPAPI\//.test(ua)) return { os: 'Windows' };
  // Apache's comment names the platform it was built for: "(Win64)", "(Debian)", "(FreeBSD)".
  const platformComment = /\((Win32|Win64|[A-Za-z][\w ]*?)\)/.exec(ua)?.[1];
  if (platformComment) {
    if (/^Win(32|64)$/.test(platformComment)) return { os: 'Windows' };
    const distribution = linuxDistribution(platformComment);
    if (distribution) return { os: `Linux (${distribution})` };
    if (/^(FreeBSD|OpenBSD|NetBSD)$/.test(platformComment)) return { os: platformComment };
  }
  const roku = /^Roku\/DVP-(\d+\.\d+)/.exec(ua);
  if (roku) return { os: `Roku OS ${roku[1]}` };
  const ubuntu = /Ubuntu[/ ]([\d.]+)/.exec(ua);
  if (ubuntu) return { os: `Linux (Ubuntu ${ubuntu[1]})` };
  if (/linux-uclibc|uClibc|BusyBox/i.test(ua)) return { os: 'Linux (embedded)' };
  const platform = PLATFORM_TOKEN.exec(ua);
  if (platform) return { os: PLATFORM_OS[platform[1]!.toLowerCase()]! };
  // Lower case too: wget's "(linux-gnu)", libre's (baresip's) "(x86_64/linux)".
  if (/\blinux\b/i.test(ua)) return { os: 'Linux' };
  return {};
}

/**
 * "(<machine>/<os>)", the platform token the re library (baresip and the
 * SIP phones and intercoms built on it) appends, its OS in lower case as
 * its build names it.
 */
const PLATFORM_TOKEN =
  /\((?:x86_64|i[3-6]86|aarch64|arm\w*|mips\w*|ppc\w*|riscv\w*)\/(linux|darwin|win32|freebsd|openbsd|netbsd)\)/i;
const PLATFORM_OS: Record<string, string> = {
  linux: 'Linux',
  darwin: 'macOS',
  win32: 'Windows',
  freebsd: 'FreeBSD',
  openbsd: 'OpenBSD',
  netbsd: 'NetBSD',
};
