/**
 * Home Assistant's view of a door (MQTT discovery): a lock entity whose state is the relay and the
 * door as HA's lock words say them, and a door sensor. Pure: topics and payloads only; the bridge
 * publishes them.
 * https://www.home-assistant.io/integrations/lock.mqtt/ and binary_sensor.mqtt/
 */
import type { DoorStatus } from '../siteMonitor.ts';

/** The payloads HA's MQTT lock sends on its command topic (its defaults). */
export const HA_COMMANDS = { lock: 'LOCK', unlock: 'UNLOCK', open: 'OPEN' } as const;

/** The lock state HA shows for a door: what the relay does, and the door standing open. */
export function lockState(door: Pick<DoorStatus, 'state' | 'relayUnlocked' | 'doorOpen'>): 'LOCKED' | 'UNLOCKED' | 'OPEN' | 'JAMMED' {
  if (door.state === 'fault') return 'JAMMED';
  if (door.doorOpen) return 'OPEN';
  return door.relayUnlocked ? 'UNLOCKED' : 'LOCKED';
}

export interface DoorTopics {
  /** Full door status as JSON (retained). */
  status: string;
  /** HA lock state word (retained). */
  lock: string;
  /** The door sensor, ON (open) or OFF (retained). */
  contact: string;
  /** Commands: HA's LOCK / UNLOCK / OPEN, or JSON { "command": ..., ... }. */
  set: string;
}

export function doorTopics(prefix: string, door: string): DoorTopics {
  const base = `${prefix}/door/${door}`;
  return { status: `${base}/status`, lock: `${base}/lock`, contact: `${base}/contact`, set: `${base}/set` };
}

interface Site {
  id: string;
  name: string;
}

/** Object ids: letters, digits, _ and - only (HA's rule for the discovery topic's node and object ids). */
function objectId(text: string): string {
  return text.replace(/[^a-zA-Z0-9_-]/g, '_');
}

/** The retained discovery messages of one door: its lock entity and its door sensor. */
export function discoveryMessages(options: { discoveryPrefix: string; prefix: string; availability: string; site: Site; version: string; door: { id: string; name: string } }): Array<{ topic: string; payload: string }> {
  const { discoveryPrefix, prefix, availability, site, version, door } = options;
  const topics = doorTopics(prefix, door.id);
  const node = objectId(`postern_${site.id}`);
  const unique = objectId(`postern_${site.id}_${door.id}`);
  const device = { identifiers: [node], name: `Postern ${site.name}`, manufacturer: 'Postern', model: 'QR access controller', sw_version: version };
  const common = { availability_topic: availability, payload_available: 'online', payload_not_available: 'offline', device, json_attributes_topic: topics.status };
  const lock = {
    ...common,
    name: door.name,
    unique_id: `${unique}_lock`,
    object_id: `${unique}_lock`,
    state_topic: topics.lock,
    state_locked: 'LOCKED',
    state_unlocked: 'UNLOCKED',
    state_open: 'OPEN',
    state_jammed: 'JAMMED',
    // HA requires a command topic; without a token the bridge answers each command refused.
    command_topic: topics.set,
    payload_lock: HA_COMMANDS.lock,
    payload_unlock: HA_COMMANDS.unlock,
    payload_open: HA_COMMANDS.open,
  };
  const contact = {
    ...common,
    name: `${door.name} door`,
    unique_id: `${unique}_contact`,
    object_id: `${unique}_contact`,
    device_class: 'door',
    state_topic: topics.contact,
    payload_on: 'ON',
    payload_off: 'OFF',
  };
  return [
    { topic: `${discoveryPrefix}/lock/${node}/${objectId(door.id)}/config`, payload: JSON.stringify(lock) },
    { topic: `${discoveryPrefix}/binary_sensor/${node}/${objectId(door.id)}_contact/config`, payload: JSON.stringify(contact) },
  ];
}
