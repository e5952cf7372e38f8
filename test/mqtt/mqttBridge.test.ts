/**
 * The MQTT bridge against a real broker (Mosquitto): Home Assistant discovery, retained door state,
 * decisions with the holder's name, commands with the role of the bridge's API token (refused for
 * a viewer token, and from the moment the token is revoked), malformed commands, and the
 * availability topic: "offline" on a clean stop and, through the broker's last will, on kill -9.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { Controller } from '../../controller/controller.ts';
import { parseCommand } from '../../controller/mqtt/mqttBridge.ts';
import { ApiClient, makeTokens } from '../support/apiClient.ts';
import { brokerAvailable, brokerSuiteName, brokerUrl, freshPrefix, RecordingClient } from '../support/mqttBroker.ts';
import { requireAll } from '../support/postgres.ts';
import { spawnCli } from '../support/runCli.ts';
import { tempDir, testSite, testSiteInput } from '../support/testSite.ts';

const up = await brokerAvailable();

interface BridgeSite {
  controller: Controller;
  prefix: string;
  discovery: string;
  tokens: Record<string, string>;
  watcher: RecordingClient;
  stop(): Promise<void>;
}

async function startBridgeSite(bridgeRole: 'operator' | 'viewer'): Promise<BridgeSite> {
  const dataDir = await tempDir('postern-mqtt-');
  const prefix = freshPrefix(bridgeRole);
  const discovery = freshPrefix('ha');
  const tokens = await makeTokens(dataDir, [
    { name: 'bridge', role: bridgeRole },
    { name: 'integrator', role: 'integrator' },
    { name: 'admin', role: 'admin' },
  ]);
  const tokenFile = path.join(dataDir, 'mqtt-token');
  await writeFile(tokenFile, tokens.bridge + '\n', { mode: 0o600 });
  const watcher = await RecordingClient.connect([`${prefix}/#`, `${discovery}/#`]);
  const config = testSite(dataDir, (input) => {
    input.scanners = [...(input.scanners ?? []), { id: 'net-1', door: 'lab', driver: 'network', debounceMs: 0 }];
    input.mqtt = { url: brokerUrl, topicPrefix: prefix, discoveryPrefix: discovery, tokenFile, clientId: `postern-test-${path.basename(dataDir)}` };
  });
  const controller = new Controller({ config, terminal: new PassThrough() });
  await controller.start();
  return {
    controller,
    prefix,
    discovery,
    tokens,
    watcher,
    async stop() {
      await controller.stop();
      await watcher.clearRetained();
      await watcher.close();
    },
  };
}

describe.skipIf(!up && !requireAll)(brokerSuiteName('MQTT bridge', up), () => {
  let site: BridgeSite;
  let api: ApiClient;
  beforeAll(async () => {
    site = await startBridgeSite('operator');
    api = await ApiClient.connect(site.controller.apiUrl!, site.tokens.integrator!);
  });
  afterAll(async () => {
    api?.close();
    await site?.stop();
  });

  it('announces each door to Home Assistant as a lock and a door sensor, with retained state and availability', async () => {
    const { watcher, prefix, discovery } = site;
    expect(await watcher.waitFor(`${prefix}/availability`)).toBe('online');
    const lock = JSON.parse(await watcher.waitFor(`${discovery}/lock/postern_test-site/front/config`));
    expect(lock).toMatchObject({
      name: 'Front',
      unique_id: 'postern_test-site_front_lock',
      state_topic: `${prefix}/door/front/lock`,
      command_topic: `${prefix}/door/front/set`,
      payload_lock: 'LOCK',
      payload_unlock: 'UNLOCK',
      availability_topic: `${prefix}/availability`,
      json_attributes_topic: `${prefix}/door/front/status`,
      device: { identifiers: ['postern_test-site'], manufacturer: 'Postern' },
    });
    const contact = JSON.parse(await watcher.waitFor(`${discovery}/binary_sensor/postern_test-site/lab_contact/config`));
    expect(contact).toMatchObject({ device_class: 'door', state_topic: `${prefix}/door/lab/contact` });
    expect(await watcher.waitFor(`${prefix}/door/front/lock`)).toBe('LOCKED');
    expect(await watcher.waitFor(`${prefix}/door/front/contact`)).toBe('OFF');
    expect(JSON.parse(await watcher.waitFor(`${prefix}/door/store/status`))).toMatchObject({ id: 'store', state: 'secured' });

    // A client that subscribes later gets the present at once: the state is retained.
    const late = await RecordingClient.connect([`${prefix}/door/+/lock`, `${prefix}/availability`]);
    expect(await late.waitFor(`${prefix}/door/lab/lock`)).toBe('LOCKED');
    expect(await late.waitFor(`${prefix}/availability`)).toBe('online');
    await late.close();
  });

  it('publishes each decision with the holder by name, and the lock as the door moves', async () => {
    const { watcher, prefix } = site;
    const { code, link } = await api.call('links.create', { name: 'Mqtt Visitor', scope: 7 });
    expect(await api.call('scanner.read', { scanner: 'net-1', text: code })).toMatchObject({ verdict: 'grant' });
    const decision = JSON.parse(await watcher.waitFor(`${prefix}/door/lab/decision`, (t) => t.includes(link.id)));
    expect(decision).toMatchObject({ door: 'lab', scanner: 'net-1', verdict: 'grant', reason: null, subject: link.id, holder: 'Mqtt Visitor' });
    expect(await watcher.waitFor(`${prefix}/door/lab/lock`, (t) => t === 'UNLOCKED')).toBe('UNLOCKED');
    await api.call('scanner.read', { scanner: 'net-1', text: 'garbage' });
    const denied = JSON.parse(await watcher.waitFor(`${prefix}/door/lab/decision`, (t) => t.includes('"deny"')));
    expect(denied).toMatchObject({ verdict: 'deny', reason: 'unknown-format', holder: null });
  });

  it("runs Home Assistant's UNLOCK and a JSON lockdown as the bridge's token, audited as that token, and answers each on the result topic", async () => {
    const { watcher, prefix } = site;
    await watcher.publish(`${prefix}/door/front/set`, 'UNLOCK');
    const unlocked = JSON.parse(await watcher.waitFor(`${prefix}/result`, (t) => t.includes('"front"')));
    expect(unlocked).toMatchObject({ door: 'front', command: 'unlock', ok: true, result: { id: 'front', relayUnlocked: true } });
    const recent = (await api.call('audit.query', { door: 'front', order: 'desc', limit: 5 })).events;
    expect(recent.find((e: { type: string }) => e.type === 'operator')).toMatchObject({ reason: 'door.unlock', actor: 'token:bridge' });

    await watcher.publish(`${prefix}/set`, JSON.stringify({ command: 'lockdown', on: true, id: 'lock-all' }));
    expect(JSON.parse(await watcher.waitFor(`${prefix}/result`, (t) => t.includes('lock-all')))).toMatchObject({ ok: true, door: null, command: 'lockdown' });
    expect(await watcher.waitFor(`${prefix}/door/store/status`, (t) => t.includes('"lockdown"'))).toContain('"mode":"lockdown"');
    await watcher.publish(`${prefix}/set`, JSON.stringify({ command: 'lockdown', on: false, id: 'unlock-all' }));
    expect(JSON.parse(await watcher.waitFor(`${prefix}/result`, (t) => t.includes('unlock-all')))).toMatchObject({ ok: true });
  });

  it('answers a malformed or unknown command with an error and keeps working', async () => {
    const { watcher, prefix } = site;
    await watcher.publish(`${prefix}/door/lab/set`, JSON.stringify({ command: 'explode', id: 'bad-1' }));
    expect(JSON.parse(await watcher.waitFor(`${prefix}/result`, (t) => t.includes('bad-1')))).toMatchObject({ ok: false, error: { code: 'POSTERN_ERR_INVALID_ARGUMENT' } });
    await watcher.publish(`${prefix}/door/nowhere/set`, JSON.stringify({ command: 'unlock', id: 'bad-2' }));
    expect(JSON.parse(await watcher.waitFor(`${prefix}/result`, (t) => t.includes('bad-2')))).toMatchObject({ ok: false, door: 'nowhere' });
    await watcher.publish(`${prefix}/door/lab/set`, JSON.stringify({ command: 'unlock', seconds: -5, id: 'bad-3' }));
    expect(JSON.parse(await watcher.waitFor(`${prefix}/result`, (t) => t.includes('bad-3')))).toMatchObject({ ok: false, error: { message: expect.stringContaining('seconds') } });
    await watcher.publish(`${prefix}/door/lab/set`, '{not json');
    expect(JSON.parse(await watcher.waitFor(`${prefix}/result`, (t) => t.includes('neither LOCK')))).toMatchObject({ ok: false, command: null });
    await watcher.publish(`${prefix}/door/lab/set`, 'LOCK');
    expect(JSON.parse(await watcher.waitFor(`${prefix}/result`, (t) => t.includes('"lock"') && t.includes('"lab"')))).toMatchObject({ ok: true });
  });

  it('refuses commands from the moment its token is revoked', async () => {
    const { watcher, prefix } = site;
    const admin = await ApiClient.connect(site.controller.apiUrl!, site.tokens.admin!);
    const bridgeToken = (await admin.call('tokens.list')).find((t: { name: string }) => t.name === 'bridge');
    await admin.call('tokens.revoke', { id: bridgeToken.id });
    admin.close();
    await watcher.publish(`${prefix}/door/front/set`, JSON.stringify({ command: 'unlock', id: 'after-revoke' }));
    expect(JSON.parse(await watcher.waitFor(`${prefix}/result`, (t) => t.includes('after-revoke')))).toMatchObject({ ok: false, error: { code: 'POSTERN_ERR_FORBIDDEN' } });
  });
});

describe.skipIf(!up && !requireAll)(brokerSuiteName('MQTT bridge with a viewer token, and its availability', up), () => {
  it('refuses commands with the role check of the API', async () => {
    const site = await startBridgeSite('viewer');
    try {
      await site.watcher.waitFor(`${site.prefix}/availability`, (t) => t === 'online');
      await site.watcher.publish(`${site.prefix}/door/front/set`, 'UNLOCK');
      const refused = JSON.parse(await site.watcher.waitFor(`${site.prefix}/result`));
      expect(refused).toMatchObject({ ok: false, command: 'unlock', error: { message: expect.stringContaining('operator') } });
      expect(site.controller.doorStatus('front')?.relayUnlocked).toBe(false);
    } finally {
      const { watcher, prefix } = site;
      await site.controller.stop();
      // A clean stop says so.
      expect(await watcher.waitFor(`${prefix}/availability`, (t) => t === 'offline')).toBe('offline');
      await watcher.clearRetained();
      await watcher.close();
    }
  });

  it('is "offline" through the broker\'s last will when the controller is killed', async () => {
    const dir = await tempDir('postern-mqtt-kill-');
    const prefix = freshPrefix('kill');
    const configFile = path.join(dir, 'site.yaml');
    await writeFile(configFile, stringify({ ...testSiteInput('./data'), scanners: [], mqtt: { url: brokerUrl, topicPrefix: prefix, discovery: false, clientId: `postern-test-kill-${path.basename(dir)}` } }));
    const watcher = await RecordingClient.connect([`${prefix}/availability`]);
    const child = spawnCli(['start', '--config', configFile]);
    try {
      expect(await watcher.waitFor(`${prefix}/availability`, (t) => t === 'online', 20_000)).toBe('online');
      child.kill('SIGKILL');
      expect(await watcher.waitFor(`${prefix}/availability`, (t) => t === 'offline', 10_000)).toBe('offline');
    } finally {
      child.kill('SIGKILL');
      await watcher.clearRetained();
      await watcher.close();
    }
  }, 40_000);
});

describe('MQTT commands as text', () => {
  it("reads Home Assistant's words and JSON commands, and refuses anything else with a clear message", () => {
    expect(parseCommand(Buffer.from('LOCK'))).toEqual({ command: 'lock', params: {} });
    expect(parseCommand(Buffer.from(' UNLOCK\n'))).toEqual({ command: 'unlock', params: {} });
    expect(parseCommand(Buffer.from('OPEN'))).toEqual({ command: 'unlock', params: {} });
    expect(parseCommand(Buffer.from('{"command":"unlock","seconds":3,"id":7}'))).toEqual({ command: 'unlock', id: 7, params: { seconds: 3 } });
    expect(() => parseCommand(Buffer.from('[1]'))).toThrow(/an object with a "command" string/);
    expect(() => parseCommand(Buffer.from('unlock'))).toThrow(/neither LOCK, UNLOCK, OPEN nor a JSON object/);
    expect(() => parseCommand(Buffer.alloc(5000, 0x20))).toThrow(/longer than 4096 bytes/);
  });
});

describe('the mqtt section of the site file', () => {
  it('refuses a URL of another scheme, MQTT wildcards in a prefix and a password without a user, naming the key', async () => {
    const dataDir = await tempDir('postern-mqtt-config-');
    const invalid = (mqtt: Record<string, unknown>) => () => testSite(dataDir, (input) => void (input.mqtt = mqtt as never));
    expect(invalid({ url: 'http://broker:1883' })).toThrow(/mqtt\.url.*mqtt:\/\//s);
    expect(invalid({ url: 'mqtt://b', topicPrefix: 'site/#' })).toThrow(/mqtt\.topicPrefix.*# or \+/s);
    expect(invalid({ url: 'mqtt://b', passwordFile: 'p' })).toThrow(/mqtt\.username.*needs a username/s);
    expect(testSite(dataDir, (input) => void (input.mqtt = { url: 'mqtts://b:8883' })).mqtt).toMatchObject({ discovery: true, discoveryPrefix: 'homeassistant' });
  });

  it('stops the controller at start with a clear error when the token file cannot be read', async () => {
    const dataDir = await tempDir('postern-mqtt-missing-');
    const config = testSite(dataDir, (input) => void (input.mqtt = { url: brokerUrl, tokenFile: path.join(dataDir, 'no-such-token') }));
    const controller = new Controller({ config, terminal: new PassThrough() });
    await expect(controller.start()).rejects.toMatchObject({ code: 'POSTERN_ERR_CONFIG_UNREADABLE', message: expect.stringContaining('mqtt.tokenFile: cannot read') });
    await controller.stop();
  });
});
