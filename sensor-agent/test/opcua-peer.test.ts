// OPC UA from a real implementation: asyncua (from PyPI, at the versions
// test/peers/requirements.txt pins; `make test` provides it) serves, in a
// network namespace, a server whose BuildInfo names its maker, product and
// software version; asyncua's client discovers its endpoints, opens a session
// with SecurityMode None and reads ServerStatus twice, as SCADA clients poll
// it, then BuildInfo. tcpdump records the exchange; the agent's inventory of
// it is checked against what the server was given and tshark's reading.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { DeviceRecord } from '@hark/contracts/inventory';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VethNamespace } from '../../test/support/netns.js';
import { waitFor } from '../../test/support/processes.js';
import { buildInventory, type InventoryResult } from '../src/pipeline.js';
import { pythonPeer, recording, spawnInside, tsharkFields } from './peers.js';

const PYTHON = pythonPeer('OPC UA', 'asyncua', 'asyncua');

const CLIENT_IP = '10.84.1.1';
const SERVER_IP = '10.84.1.2';
const BUILD = {
  productUri: 'urn:acme:filler-controller',
  manufacturer: 'ACME Automation',
  product: 'FillerController FC-400',
  version: '4.2.1',
  build: '4217',
};
const APPLICATION_NAME = 'Filler Line 4 OPC UA Server';

const SERVER = `
import asyncio, datetime, json, sys
from asyncua import Server, ua
async def main():
    build = json.loads(sys.argv[2])
    server = Server()
    await server.init()
    server.set_endpoint(f"opc.tcp://{sys.argv[1]}:4840/")
    server.set_server_name(sys.argv[3])
    await server.set_application_uri("urn:acme:filler-line-4")
    server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
    await server.set_build_info(build["productUri"], build["manufacturer"], build["product"], build["version"],
                                build["build"], datetime.datetime(2024, 1, 1))
    async with server:
        await asyncio.sleep(3600)
asyncio.run(main())
`;
const CLIENT = `
import asyncio, sys
from asyncua import Client, ua
async def main():
    url = f"opc.tcp://{sys.argv[1]}:4840/"
    await Client(url).connect_and_get_server_endpoints()
    async with Client(url) as client:
        for _ in range(2):
            await client.get_node(ua.ObjectIds.Server_ServerStatus).read_value()
        await client.get_node(ua.ObjectIds.Server_ServerStatus_BuildInfo).read_value()
asyncio.run(main())
`;
const run = promisify(execFile);

describe.skipIf(!PYTHON)('OPC UA from asyncua, a real server and client', () => {
  let netns: VethNamespace;
  let dir: string;
  let capture: string;
  let result: InventoryResult;
  let server: DeviceRecord;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hark-opcua-'));
    capture = join(dir, 'opcua.pcap');
    writeFileSync(join(dir, 'server.py'), SERVER);
    writeFileSync(join(dir, 'client.py'), CLIENT);
    netns = VethNamespace.create('hku');
    netns.address(CLIENT_IP, SERVER_IP);
    const asyncua = spawnInside(netns, dir, PYTHON, [
      join(dir, 'server.py'),
      SERVER_IP,
      JSON.stringify(BUILD),
      APPLICATION_NAME,
    ]);
    try {
      await recording(netns, capture, 'tcp port 4840', () =>
        waitFor(
          'the client to read the server',
          async () => Boolean(await run(PYTHON, [join(dir, 'client.py'), SERVER_IP], { timeout: 20_000 })),
          { timeoutMs: 30_000, intervalMs: 1000 },
        ),
      );
    } finally {
      await asyncua.stop();
    }
    result = await buildInventory(capture);
    server = result.devices.find((d) => d.macs.includes(netns.macs().far))!;
  }, 90_000);

  afterAll(() => {
    netns?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  /** tshark's values of `field` in the server's messages. */
  const tshark = (field: string) => tsharkFields(capture, `opcua && ip.src == ${SERVER_IP}`, field);

  it('reads the server and finds nothing malformed', () => {
    expect(server).toBeDefined();
    expect(result.stats.malformed).toBe(0);
    expect(result.stats.decodeErrors.opcua).toBe(0);
    expect(server.protocols).toContain('opcua');
    expect(server.type?.value).toBe('opcua-server');
  });

  it('names maker, product and software version from the BuildInfo the client read', () => {
    // tshark shows the Read responses: what the agent reads them against.
    expect(tshark('opcua.servicenodeid.numeric')).toContain('634'); // ReadResponse
    expect(server.manufacturer?.value).toBe(BUILD.manufacturer);
    expect(server.model?.value).toBe(BUILD.product);
    expect(server.firmwareVersion?.value).toBe(BUILD.version);
    expect(server.firmwareVersion?.evidence.map((e) => e.field)).toEqual(['build_info.software_version']);
  });

  it('classifies the client that opened a session to the server as what polls one', () => {
    const client = result.devices.find((d) => d.ipv4.includes(CLIENT_IP))!;
    expect(tsharkFields(capture, `opcua && ip.src == ${CLIENT_IP}`, 'opcua.transport.type')).toContain('HEL');
    expect([client.category?.value, client.type?.value]).toEqual(['ot', 'hmi']);
  });

  it('prefers the product name to the application name its endpoints give', () => {
    expect(tshark('opcua.loctext.Text').join(',')).toContain(APPLICATION_NAME);
    expect(server.model?.value).not.toBe(APPLICATION_NAME);
  });
});
