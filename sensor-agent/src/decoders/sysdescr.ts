// Reading model, OS and firmware out of free-text system descriptions
// (LLDP sysDescr, CDP software version). Vendors follow no standard, so this
// recognises a few widespread shapes and otherwise reports nothing rather
// than guess; each result carries the confidence of the rule that matched.

export interface DescriptionFacts {
  os?: string;
  firmwareVersion?: string;
  model?: string;
}

// "Version 12.2(44)SE", "revision H.08.89", "v3.20", "Release 5.20": an optional one- or two-letter train prefix.
// The keyword starts a word that no dot or hyphen joins to the one before: in a Linux kernel release
// ("6.1.0-fc-v1252", as lldpd and net-snmp describe a Linux host) "v1252" is part of the release, not a version.
const VERSION =
  /(?<![\w.-])(?:Version|revision|Release|Ver\.?|v)\s*:?\s*((?:[A-Z]{1,2}\.)?[0-9][\w.()-]*[\w)])/i;

/**
 * Descriptions that name an OS describe software, not hardware. A network
 * OS's version is the device's firmware; a general-purpose OS's is not.
 */
const OS_RULES: readonly { pattern: RegExp; os: string; versionIsFirmware: boolean }[] = [
  { pattern: /^Cisco (?:IOS|Internetwork Operating System)/i, os: 'Cisco IOS', versionIsFirmware: true },
  { pattern: /^Cisco NX-OS/i, os: 'Cisco NX-OS', versionIsFirmware: true },
  { pattern: /^Juniper Networks.*JUNOS/i, os: 'Junos', versionIsFirmware: true },
  { pattern: /^(?:H3C|HP|Huawei)? ?Comware/i, os: 'Comware', versionIsFirmware: true },
  { pattern: /^Arista Networks EOS/i, os: 'Arista EOS', versionIsFirmware: true },
  { pattern: /^RouterOS\b/i, os: 'RouterOS', versionIsFirmware: true },
  { pattern: /^Linux\b/i, os: 'Linux', versionIsFirmware: false },
  { pattern: /^Ubuntu\b/i, os: 'Linux (Ubuntu)', versionIsFirmware: false },
  { pattern: /^Debian\b/i, os: 'Linux (Debian)', versionIsFirmware: false },
  { pattern: /^(?:Microsoft )?Windows\b/i, os: 'Windows', versionIsFirmware: false },
  // Windows's SNMP service: "Hardware: Intel64 Family 6 ... - Software: Windows Version 6.3 (Build 17763 ...)".
  { pattern: /^Hardware: .* Software: Windows\b/i, os: 'Windows', versionIsFirmware: false },
  // lldpd's default description is the distribution's name, then `uname -srvm`:
  // "Alpine Linux v3.18 Linux 6.1.0-13-lts #1-Alpine SMP ... x86_64".
  { pattern: /\bLinux \d+\.\d+\S* #/, os: 'Linux', versionIsFirmware: false },
];

export function parseSystemDescription(description: string): DescriptionFacts {
  const facts: DescriptionFacts = {};
  const flat = description.replace(/\s+/g, ' ').trim();
  if (flat === '') return facts;
  const version = VERSION.exec(flat);
  const firmware = version ? balanced(version[1]!) : undefined;
  for (const rule of OS_RULES) {
    if (rule.pattern.test(flat)) {
      facts.os = rule.os;
      if (firmware && rule.versionIsFirmware) facts.firmwareVersion = firmware;
      return facts;
    }
  }
  if (firmware) facts.firmwareVersion = firmware;
  // "Model text, revision X" / "Model - Version X" / "Model vX": the part before the version is the model.
  const cut = flat.split(/,| - | \(?(?=v\d)/)[0]!.trim();
  if (cut.length >= 3 && cut.length <= 64) facts.model = cut;
  return facts;
}

/** A version without the closing parenthesis of the text around it: "(v2.1)" gives 2.1; "12.2(50)SE4" stays. */
function balanced(version: string): string {
  const opened = version.split('(').length - 1;
  const closed = version.split(')').length - 1;
  return closed > opened && version.endsWith(')') ? version.slice(0, -1) : version;
}
