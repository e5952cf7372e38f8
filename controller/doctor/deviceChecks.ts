/**
 * The doctor's device checks: each door on a USB relay board and each scanner the site file
 * names, as the controller's user would open them. HID devices are found the way the kernel shows
 * them (sysfs: /sys/class/hidraw/<node>/device/uevent holds HID_ID=<bus>:<vendor>:<product> and
 * HID_UNIQ, the USB serial string), so the check needs no device to be opened; only a relay
 * board's id, which the board reports in a feature report, is read from the board itself.
 */
import { realpath, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { HID_RELAY_PRODUCT_ID, HID_RELAY_VENDOR_ID } from '../../drivers/doorIo/hidRelayBoard.ts';
import type { DoorConfig, ScannerConfig } from '../config/configSchema.ts';
import type { DoctorCheck, DoctorContext } from './doctor.ts';
import { serviceUser } from './fileChecks.ts';
import { ACCESS, readText } from './system.ts';

/** A hidraw node as sysfs describes it. */
export interface HidrawNode {
  /** hidraw0 */
  name: string;
  /** /dev/hidraw0 */
  devicePath: string;
  vendorId: number;
  productId: number;
  /** HID_NAME: the product's name as it reports it. */
  product: string;
  /** HID_UNIQ: the USB serial string, often empty. */
  serial: string;
}

const UDEV_HINT = 'install the udev rule for it (docs/deploy/50-postern-*.rules into /etc/udev/rules.d/, with its USB id), then udevadm control --reload && udevadm trigger, and make the service\'s user a member of the postern group';

export async function deviceChecks(ctx: DoctorContext): Promise<DoctorCheck[]> {
  const { config } = ctx;
  const checks: DoctorCheck[] = [];
  const relayDoors = config.doors.filter((d) => d.io.driver === 'hid-relay');
  const hidScanners = config.scanners.filter((s) => s.driver === 'hid');
  if (relayDoors.length + hidScanners.length > 0) {
    const hid = await nodeHidCheck(ctx);
    checks.push(hid);
    const nodes = await listHidraw(ctx);
    for (const door of relayDoors) checks.push(await relayDoorCheck(ctx, door, nodes, hid.status === 'ok'));
    for (const scanner of hidScanners) checks.push(await hidScannerCheck(ctx, scanner, nodes));
  }
  const cameras = config.scanners.filter((s): s is Extract<ScannerConfig, { driver: 'camera' }> => s.driver === 'camera');
  const ffmpegChecked = new Set<string>();
  for (const camera of cameras) {
    const program = camera.options.ffmpegPath;
    if (!ffmpegChecked.has(program)) {
      ffmpegChecked.add(program);
      checks.push(await ffmpegCheck(ctx, program));
    }
    checks.push(await cameraCheck(ctx, camera));
  }
  for (const scanner of config.scanners) {
    const check = apiScannerCheck(ctx, scanner);
    if (check !== undefined) checks.push(check);
  }
  return checks;
}

async function nodeHidCheck(ctx: DoctorContext): Promise<DoctorCheck> {
  try {
    await ctx.system.loadNodeHid();
    return { name: 'node-hid', status: 'ok', message: 'node-hid loads (USB HID scanners and relay boards)' };
  } catch (error) {
    return {
      name: 'node-hid',
      status: 'fail',
      message: `node-hid cannot be loaded: ${(error as Error).message.split('\n')[0]}`,
      hint: 'apt-get install libusb-1.0-0, then check again',
    };
  }
}

/** Every hidraw node sysfs shows; empty when there is no sysfs or no HID device at all. */
export async function listHidraw(ctx: DoctorContext): Promise<HidrawNode[]> {
  const classDir = path.join(ctx.system.sysRoot, 'class', 'hidraw');
  let names: string[];
  try {
    names = (await readdir(classDir)).filter((n) => /^hidraw\d+$/.test(n));
  } catch {
    return [];
  }
  const nodes: HidrawNode[] = [];
  for (const name of names.sort((a, b) => Number(a.slice(6)) - Number(b.slice(6)))) {
    const uevent = await readText(path.join(classDir, name, 'device', 'uevent'));
    if (uevent === undefined) continue;
    const fields = new Map(uevent.split('\n').map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)] as const));
    const id = /^([0-9a-f]+):([0-9a-f]+):([0-9a-f]+)$/i.exec(fields.get('HID_ID') ?? '');
    if (id === null) continue;
    nodes.push({
      name,
      devicePath: path.join(ctx.system.devRoot, name),
      vendorId: parseInt(id[2]!, 16),
      productId: parseInt(id[3]!, 16),
      product: fields.get('HID_NAME') ?? '',
      serial: fields.get('HID_UNIQ') ?? '',
    });
  }
  return nodes;
}

export function usbId(vendorId: number, productId: number): string {
  return `${hex4(vendorId)}:${hex4(productId)}`;
}

function hex4(n: number): string {
  return n.toString(16).padStart(4, '0');
}

function describeNodes(nodes: HidrawNode[]): string {
  if (nodes.length === 0) return 'no hidraw device is plugged in';
  return `hidraw devices now: ${nodes.map((n) => `${n.name} ${usbId(n.vendorId, n.productId)}${n.product ? ` "${n.product}"` : ''}`).join(', ')}`;
}

/** A device node: there, a character device, readable and writable by the running user; undefined when so. */
async function nodeProblem(ctx: DoctorContext, file: string): Promise<{ kind: 'missing' | 'not-device' | 'denied'; text: string } | undefined> {
  let s;
  try {
    s = await stat(file);
  } catch (error) {
    return { kind: 'missing', text: `${file} does not exist (${(error as NodeJS.ErrnoException).code ?? 'error'})` };
  }
  if (!s.isCharacterDevice()) return { kind: 'not-device', text: `${file} is not a device node` };
  try {
    await ctx.system.access(file, ACCESS.R | ACCESS.W);
  } catch (error) {
    const mode = `0${(s.mode & 0o777).toString(8)}`;
    return { kind: 'denied', text: `${ctx.user} cannot open ${file} for reading and writing (${(error as NodeJS.ErrnoException).code ?? 'denied'}; mode ${mode}, group ${s.gid})` };
  }
  return undefined;
}

async function hidScannerCheck(ctx: DoctorContext, scanner: Extract<ScannerConfig, { driver: 'hid' }>, nodes: HidrawNode[]): Promise<DoctorCheck> {
  const name = `scanner ${scanner.id}`;
  const { options } = scanner;
  if (options.path !== undefined) {
    const problem = await nodeProblem(ctx, options.path);
    if (problem === undefined) return { name, status: 'ok', message: `${options.path}: can be opened for reading and writing` };
    return {
      name,
      status: 'fail',
      message: problem.kind === 'missing' ? `${problem.text}; ${describeNodes(nodes)}` : problem.text,
      hint: problem.kind === 'denied' ? UDEV_HINT : 'plug the scanner in; a hidraw path changes when it is re-plugged: prefer options.vendorId and productId (docs/drivers.md)',
    };
  }
  const id = usbId(options.vendorId!, options.productId!);
  const matching = nodes.filter((n) => n.vendorId === options.vendorId && n.productId === options.productId && (options.serial === undefined || n.serial === options.serial));
  const wanted = `USB HID device ${id}${options.serial !== undefined ? ` with serial "${options.serial}"` : ''}`;
  if (matching.length === 0) {
    return { name, status: 'fail', message: `no ${wanted} is plugged in; ${describeNodes(nodes)}`, hint: 'plug it in, and check its id with lsusb (vendorId and productId are the two hex numbers: write them as 0x0c2e in the site file)' };
  }
  const problems = (await Promise.all(matching.map((n) => nodeProblem(ctx, n.devicePath)))).filter((p) => p !== undefined);
  if (problems.length === matching.length) return { name, status: 'fail', message: problems.map((p) => p.text).join('; '), hint: UDEV_HINT };
  const product = matching[0]!.product ? ` "${matching[0]!.product}"` : '';
  if (problems.length > 0) {
    return { name, status: 'warn', message: `${wanted}${product} found, but ${problems.map((p) => p.text).join('; ')}: the interface the scanner's mode needs may be one of those`, hint: UDEV_HINT };
  }
  return { name, status: 'ok', message: `${wanted}${product} at ${matching.map((n) => n.devicePath).join(', ')}: readable and writable` };
}

async function relayDoorCheck(ctx: DoctorContext, door: DoorConfig, nodes: HidrawNode[], hidLoads: boolean): Promise<DoctorCheck> {
  const io = door.io as Extract<DoorConfig['io'], { driver: 'hid-relay' }>;
  const name = `door ${door.id}`;
  const boards = nodes.filter((n) => n.vendorId === HID_RELAY_VENDOR_ID && n.productId === HID_RELAY_PRODUCT_ID);
  const boardId = usbId(HID_RELAY_VENDOR_ID, HID_RELAY_PRODUCT_ID);
  if (io.path !== undefined) {
    const problem = await nodeProblem(ctx, io.path);
    if (problem !== undefined) {
      return {
        name,
        status: 'fail',
        message: problem.kind === 'missing' ? `relay board: ${problem.text}; ${describeNodes(nodes)}` : `relay board: ${problem.text}`,
        hint: problem.kind === 'denied' ? UDEV_HINT : 'plug the board in; a hidraw path changes when it is re-plugged: prefer io.serial (docs/drivers.md)',
      };
    }
    return { name, status: 'ok', message: `relay board at ${io.path}, channel ${io.channel}: readable and writable` };
  }
  if (boards.length === 0) return { name, status: 'fail', message: `relay board "${io.serial}": no USBRelay board (${boardId}) is plugged in; ${describeNodes(nodes)}`, hint: 'plug it in and check lsusb for 16c0:05df' };
  const usable: HidrawNode[] = [];
  const denied: string[] = [];
  for (const board of boards) {
    const problem = await nodeProblem(ctx, board.devicePath);
    if (problem === undefined) usable.push(board);
    else denied.push(problem.text);
  }
  if (usable.length === 0) return { name, status: 'fail', message: `relay board "${io.serial}": ${denied.join('; ')}`, hint: UDEV_HINT };
  if (!hidLoads) return { name, status: 'warn', message: `${boards.length} USBRelay board(s) present, but which one is "${io.serial}" cannot be read without node-hid` };
  const serials: string[] = [];
  const unreadable: string[] = [];
  for (const board of usable) {
    try {
      const serial = await ctx.system.readRelaySerial(board.devicePath);
      if (serial === io.serial) return { name, status: 'ok', message: `relay board "${io.serial}" at ${board.devicePath}, channel ${io.channel}: readable and writable` };
      serials.push(`"${serial}" at ${board.devicePath}`);
    } catch (error) {
      unreadable.push(`${board.devicePath}: ${(error as Error).message}`);
    }
  }
  const seen = serials.length > 0 ? `; the boards report ${serials.join(', ')}` : '';
  const failed = unreadable.length > 0 ? `; could not read ${unreadable.join(', ')}` : '';
  const notChecked = denied.length > 0 ? `; not checked: ${denied.join('; ')}` : '';
  return {
    name,
    status: serials.length === 0 && denied.length === 0 ? 'warn' : 'fail',
    message: `relay board "${io.serial}" not found among ${boards.length} USBRelay board(s)${seen}${failed}${notChecked}`,
    hint: 'io.serial is the 5-character id the board reports (shown above), not the USB serial string',
  };
}

/** The program ffmpegPath names: found (in PATH for a bare name), executable, and it runs. */
async function ffmpegCheck(ctx: DoctorContext, program: string): Promise<DoctorCheck> {
  const name = 'ffmpeg';
  const hint = 'apt-get install ffmpeg, or give its path as options.ffmpegPath';
  const found = await findProgram(ctx, program);
  if (found === undefined) {
    const where = program.includes('/') ? program : `in PATH (${ctx.env.PATH ?? 'unset'})`;
    return { name, status: 'fail', message: `"${program}" not found ${program.includes('/') ? `at ${where}` : where}: camera scanners cannot start`, hint };
  }
  const result = await ctx.system.run(found, ['-hide_banner', '-version'], { env: ctx.env, timeoutMs: 10_000 });
  if (result.missing || result.code !== 0) {
    return { name, status: 'fail', message: `${found} does not run: ${(result.stderr || result.stdout).trim().split('\n')[0] || `exit ${result.code}`}`, hint };
  }
  return { name, status: 'ok', message: `${found}: ${result.stdout.split('\n')[0]!.trim()}` };
}

async function findProgram(ctx: DoctorContext, program: string): Promise<string | undefined> {
  const candidates = program.includes('/') ? [path.resolve(program)] : (ctx.env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(':').filter(Boolean).map((dir) => path.join(dir, program));
  for (const file of candidates) {
    try {
      if (!(await stat(file)).isFile()) continue;
      await ctx.system.access(file, ACCESS.X);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

async function cameraCheck(ctx: DoctorContext, camera: Extract<ScannerConfig, { driver: 'camera' }>): Promise<DoctorCheck> {
  const name = `scanner ${camera.id}`;
  const { device, url } = camera.options;
  if (device !== undefined) {
    const problem = await nodeProblem(ctx, device);
    if (problem !== undefined) {
      return {
        name,
        status: 'fail',
        message: `camera: ${problem.text}`,
        hint: problem.kind === 'denied' ? `usermod -aG video ${serviceUser(ctx)}, then restart the service` : 'plug the camera in; v4l2-ctl --list-devices lists the cameras (a /dev/v4l/by-id/ path survives re-plugging)',
      };
    }
    const label = await cameraName(ctx, device);
    return { name, status: 'ok', message: `camera ${device}${label ? ` "${label}"` : ''}: readable and writable` };
  }
  if (url !== undefined && /^[a-z][a-z0-9+.-]*:\/\//i.test(url) && !url.startsWith('file://')) {
    return { name, status: 'ok', message: `stream ${url.replace(/\/\/[^@/]*@/, '//***@')}: not opened here (ffmpeg opens it at start)` };
  }
  const file = url!.replace(/^file:\/\//, '');
  try {
    await ctx.system.access(file, ACCESS.R);
    return { name, status: 'ok', message: `video file ${file}: readable` };
  } catch (error) {
    return { name, status: 'fail', message: `video file ${file} cannot be read by ${ctx.user} (${(error as NodeJS.ErrnoException).code ?? 'error'})`, hint: 'give a readable file, or a stream URL' };
  }
}

async function cameraName(ctx: DoctorContext, device: string): Promise<string | undefined> {
  try {
    const node = path.basename(await realpath(device));
    if (!/^video\d+$/.test(node)) return undefined;
    return (await readText(path.join(ctx.system.sysRoot, 'class', 'video4linux', node, 'name')))?.trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Scanners that need something of the API or of the process that the site file may not give. */
function apiScannerCheck({ config }: DoctorContext, scanner: ScannerConfig): DoctorCheck | undefined {
  const name = `scanner ${scanner.id}`;
  if (scanner.driver === 'terminal') {
    return {
      name,
      status: 'warn',
      message: 'reads the controller\'s standard input, which a service has none of (the unit gives it /dev/null): it reads nothing there',
      hint: 'for a USB scanner at the door use driver: hid (docs/drivers.md); keep terminal for trying things out',
    };
  }
  if ((scanner.driver === 'network' || scanner.driver === 'kiosk') && !config.api.enabled) {
    return { name, status: 'warn', message: `a ${scanner.driver} scanner sends its reads over the API, and api.enabled is false: it never becomes ready`, hint: 'set api.enabled: true' };
  }
  if (scanner.driver === 'kiosk' && config.api.tls === undefined && !(config.badge.publicUrl ?? '').startsWith('https://')) {
    return {
      name,
      status: 'warn',
      message: 'the kiosk page needs the camera, which browsers give only to pages served over HTTPS (or from localhost), and neither api.tls nor an https:// badge.publicUrl is set',
      hint: 'set api.tls (postern tls create makes a certificate and prints the lines), or serve the controller behind a reverse proxy with a certificate and name it in badge.publicUrl',
    };
  }
  return undefined;
}
