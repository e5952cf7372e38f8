/**
 * Site-file options of the drivers: the I/O of a door, and the kind of each scanner with its options.
 * The site file schema (controller/config/configSchema.ts) puts them in its door and scanner entries;
 * createDrivers.ts makes the drivers from them. A new driver adds its variant here.
 */
import { z } from 'zod';
import { cameraScannerOptions } from './scanners/camera/cameraConfig.ts';
import { POS_LAYOUTS } from './scanners/hid/posReports.ts';

/** A door's `io`: the driver that drives its lock and reads its contacts. */
export const doorIoConfig = z.discriminatedUnion('driver', [
  z.strictObject({
    driver: z.literal('simulated'),
    /** The simulated door opens after a grant, like a person walking through, unless false. */
    autoWalkThrough: z.boolean().default(false),
  }),
  /** A USB HID relay board ("USBRelay", 16c0:05df), chosen by its 5-character serial or its hidraw path. */
  z
    .strictObject({
      driver: z.literal('hid-relay'),
      serial: z.string().regex(/^[\x21-\x7e]{1,5}$/, 'must be the 1-5 character id the board reports').optional(),
      path: z.string().min(1).optional(),
      /** The relay of this door on the board. */
      channel: z.number().int().min(1).max(8),
      /** true: energised = unlocked (fail-secure strike); false: energised = locked (maglock). */
      energizeToUnlock: z.boolean().default(true),
    })
    .refine((io) => io.serial !== undefined || io.path !== undefined, { message: 'give serial or path', path: ['serial'] }),
]);

export type DoorIoConfig = z.output<typeof doorIoConfig>;

const usbId = z.number().int().min(0).max(0xffff);

export const hidScannerOptions = z
  .strictObject({
    vendorId: usbId.optional(),
    productId: usbId.optional(),
    /** Picks one of several scanners with the same vendorId and productId. */
    serial: z.string().min(1).optional(),
    /** A hidraw path (e.g. /dev/hidraw3), instead of vendorId and productId. */
    path: z.string().min(1).optional(),
    mode: z.enum(['keyboard', 'pos']).default('keyboard'),
    /** The keyboard-country setting of the scanner (keyboard mode). */
    layout: z.enum(['us', 'uk', 'de', 'fr']).default('us'),
    /** The key the scanner ends each code with (keyboard mode). */
    suffix: z.enum(['enter', 'tab']).default('enter'),
    /**
     * Keyboard mode: a read with no key for this long before its suffix is dropped. POS mode: a code
     * split over several reports whose next report does not come within this long is dropped.
     */
    interCharTimeoutMs: z.number().int().min(1).max(10_000).default(50),
    /**
     * POS mode: how the scanner lays out its reports (drivers/scanners/hid/posReports.ts), or
     * `descriptor`: as the scanner's own HID report descriptor says (hid/reportDescriptor.ts).
     */
    posLayout: z.enum(POS_LAYOUTS).default('plain'),
  })
  .refine((o) => o.path !== undefined || (o.vendorId !== undefined && o.productId !== undefined), {
    message: 'give vendorId and productId, or path',
  });

export type HidScannerOptionsConfig = z.output<typeof hidScannerOptions>;

/**
 * A scanner entry: one variant per `driver`, each with its `options`. `common` is what every scanner
 * entry has besides (the site file's id, door, ...), put first in each variant.
 */
export function scannerConfigSchema<Common extends z.ZodRawShape>(common: Common) {
  return z.discriminatedUnion('driver', [
    /** A line typed or pasted on standard input is a scan, as a keyboard-wedge scanner types it. */
    z.strictObject({ ...common, driver: z.literal('terminal'), options: z.strictObject({}).default({}) }),
    /** Reads fed by the controller itself (tests, benchmarks). */
    z.strictObject({ ...common, driver: z.literal('simulated'), options: z.strictObject({}).default({}) }),
    /** A device on the network that sends reads over the API with its own token (`scanner.read`). */
    z.strictObject({ ...common, driver: z.literal('network'), options: z.strictObject({}).default({}) }),
    /** A USB HID scanner read through hidraw, in keyboard emulation or HID POS mode (docs/drivers.md). */
    z.strictObject({ ...common, driver: z.literal('hid'), options: hidScannerOptions }),
    /** A webcam or video stream through ffmpeg, decoded in worker threads (docs/drivers.md). */
    z.strictObject({ ...common, driver: z.literal('camera'), options: cameraScannerOptions }),
    /** A tablet running the kiosk page (/kiosk), sending camera frames over the API with its own token. */
    z.strictObject({ ...common, driver: z.literal('kiosk'), options: z.strictObject({}).default({}) }),
  ]);
}

/** The driver part of a scanner entry alone: `driver` and its `options`. */
export const scannerDriverConfig = scannerConfigSchema({});

export type ScannerDriverConfig = z.output<typeof scannerDriverConfig>;
