// OS and model hints from product tokens (src/decoders/useragent.ts), on the
// User-Agent strings tshark finds in the shared captures and a few Windows
// and Roku system clients.
import { describe, expect, it } from 'vitest';
import { parseUserAgent } from '../src/decoders/useragent.js';

describe('User-Agent product tokens', () => {
  it.each([
    [
      'Mozilla/5.0 (X11; U; Linux x86_64; en-US; rv:1.9.2.15) Gecko/20110303 Ubuntu/10.04 (lucid) Firefox/3.6.15',
      'Linux (Ubuntu 10.04)',
      undefined,
    ],
    [
      'Mozilla/5.0 (Macintosh; Intel Mac OS X 10.13; rv:69.0) Gecko/20100101 Firefox/69.0',
      'macOS 10.13',
      undefined,
    ],
    ['Google Chrome/77.0.3865.90 Mac OS X', 'macOS', undefined],
    ['Microsoft Edge/99.0.1150.30 Windows', 'Windows', undefined],
    ['Microsoft-CryptoAPI/10.0', 'Windows 10/11', undefined],
    ['Microsoft-CryptoAPI/6.1', 'Windows 7', undefined],
    ['Microsoft NCSI', 'Windows', undefined],
    ['Wget/1.13 (linux-uclibc)', 'Linux (embedded)', undefined],
    [
      'Mozilla/5.0 (Linux; Android 9; Nokia 2.2) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/79.0.3945.93 Mobile Safari/537.36',
      'Android 9',
      'Nokia 2.2',
    ],
    [
      'Dalvik/2.1.0 (Linux; U; Android 10; Redmi Note 9 Pro MIUI/V12.0.3.0.QJZMIXM)',
      'Android 10',
      'Redmi Note 9 Pro',
    ],
    ['Roku/DVP-9.10 (519.10E04111A)', 'Roku OS 9.10', undefined],
    // The re library's platform token (baresip, and the phones and intercoms built on it): sip-peer.test.ts
    // shows Debian's baresip sending the first.
    ['baresip v1.0.0 (x86_64/linux)', 'Linux', undefined],
    ['baresip v3.10.1 (arm64/darwin)', 'macOS', undefined],
    ['baresip v2.0.0 (i686/win32)', 'Windows', undefined],
    // libcups' "CUPS/<version> (<uname -s> <uname -r>; <uname -m>) IPP/2.0" (cupsSetUserAgent; on Windows
    // the NT version): ipp-peer.test.ts shows Debian's ipptool sending the Linux form.
    ['CUPS/2.4.2 (Linux 6.1.0-13-amd64; x86_64) IPP/2.0', 'Linux', undefined],
    ['CUPS/2.2.7 (Darwin 19.6.0; x86_64) IPP/2.0', 'macOS', undefined],
    ['CUPS/2.3.4 (macOS 12.6.1; arm64) IPP/2.0', 'macOS 12.6.1', undefined],
    ['CUPS/2.4.7 (FreeBSD 14.0-RELEASE; amd64) IPP/2.0', 'FreeBSD', undefined],
    ['CUPS/2.2.0 (Windows 10.0; amd64) IPP/2.0', 'Windows 10/11', undefined],
    ['Wget/1.21.3 (linux-gnu)', 'Linux', undefined],
    // Servers: Apache's build comment, IIS's version (one per Windows release), HTTP.sys.
    ['Apache/2.4.62 (Debian)', 'Linux (Debian)', undefined],
    ['Apache/2.4.41 (Ubuntu)', 'Linux (Ubuntu)', undefined],
    ['Apache/2.4.6 (CentOS) OpenSSL/1.0.2k-fips', 'Linux (CentOS)', undefined],
    [
      'Apache/2.4.37 (Red Hat Enterprise Linux) OpenSSL/1.1.1k',
      'Linux (Red Hat Enterprise Linux)',
      undefined,
    ],
    ['Apache/2.4.54 (FreeBSD)', 'FreeBSD', undefined],
    ['Apache/2.4.58 (Win64) OpenSSL/3.1.3 PHP/8.2.12', 'Windows', undefined],
    ['Apache/2.4.57 (Unix)', undefined, undefined],
    ['Microsoft-IIS/10.0', 'Windows Server 2016 or later', undefined],
    ['Microsoft-IIS/7.5', 'Windows Server 2008 R2', undefined],
    ['Microsoft-HTTPAPI/2.0', 'Windows', undefined],
    ['nginx/1.22.1', undefined, undefined],
  ])('%s', (ua, os, model) => {
    const facts = parseUserAgent(ua);
    expect(facts.os).toBe(os);
    expect(facts.model).toBe(model);
  });

  it('says nothing where the string names no OS', () => {
    expect(parseUserAgent('CUPS/1.3.4')).toEqual({});
    expect(parseUserAgent('Withings UserAgent')).toEqual({});
  });
});
