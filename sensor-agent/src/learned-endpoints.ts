// Where devices said they serve HTTP: a UPnP device's LOCATION (SSDP) and a
// WS-Discovery host's XAddrs name the port its description or metadata is
// fetched from, and devices choose their own: Sonos 1400, Sony 52323,
// Samsung 7676 and 9197, Panasonic 55000, HP printers' WSD 3911, MiniDLNA
// wherever it is configured. The decoders' port table cannot list them all;
// the pipeline hands a learned endpoint's segments to the HTTP decoders too.
//
// Bounded (the oldest is forgotten first), IPv4 only, and only an endpoint a
// device announced for itself: one announcement cannot send another host's
// traffic to the HTTP decoders.

/** Each of these is a few bytes; a site's UPnP and WSD devices are far fewer. */
export const MAX_LEARNED_ENDPOINTS = 4096;

export class LearnedEndpoints {
  /** ip4 * 65536 + port, in the order learned (a Map keeps insertion order). */
  private readonly endpoints = new Map<number, true>();
  /** Per port, how many endpoints use it: most segments are answered by a read of this alone (the pipeline's). */
  readonly ports = new Uint16Array(65536);

  constructor(private readonly max = MAX_LEARNED_ENDPOINTS) {}

  get size(): number {
    return this.endpoints.size;
  }

  add(ip4: number, port: number): void {
    const key = ip4 * 65536 + port;
    if (this.endpoints.has(key)) return;
    if (this.endpoints.size >= this.max) {
      const oldest = this.endpoints.keys().next().value!;
      this.endpoints.delete(oldest);
      this.ports[oldest % 65536]!--;
    }
    this.endpoints.set(key, true);
    this.ports[port]!++;
  }

  has(ip4: number, port: number): boolean {
    return this.ports[port] !== 0 && this.endpoints.has(ip4 * 65536 + port);
  }
}
