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
const VERSION = /\b(?:Version|revision|Release|Ver\.?|v)\s*:?\s*((?:[A-Z]{1,2}\.)?[0-9][\w.()-]*[\w)])/i;

/** Descriptions that start with an OS name describe software, not hardware. */
const OS_PREFIXES: readonly [RegExp, string][] = [
  [/^Cisco (?:IOS|Internetwork Operating System)/i, 'Cisco IOS'],
  [/^Cisco NX-OS/i, 'Cisco NX-OS'],
  [/^Juniper Networks.*JUNOS/i, 'Junos'],
  [/^(?:H3C|HP|Huawei)? ?Comware/i, 'Comware'],
  [/^Linux\b/i, 'Linux'],
  [/^Ubuntu\b/i, 'Linux (Ubuntu)'],
  [/^Debian\b/i, 'Linux (Debian)'],
  [/^(?:Microsoft )?Windows\b/i, 'Windows'],
  [/^Arista Networks EOS/i, 'Arista EOS'],
  [/^RouterOS\b/i, 'RouterOS'],
];

export function parseSystemDescription(description: string): DescriptionFacts {
  const facts: DescriptionFacts = {};
  const flat = description.replace(/\s+/g, ' ').trim();
  if (flat === '') return facts;
  const version = VERSION.exec(flat);
  if (version) facts.firmwareVersion = version[1]!;
  for (const [pattern, os] of OS_PREFIXES) {
    if (pattern.test(flat)) {
      facts.os = os;
      return facts;
    }
  }
  // "Model text, revision X" / "Model - Version X" / "Model vX": the part before the version is the model.
  const cut = flat.split(/,| - | (?=v\d)/)[0]!.trim();
  if (cut.length >= 3 && cut.length <= 64) facts.model = cut;
  return facts;
}
