import { z } from 'zod';
import { RpcError, RpcErrorCodes } from '../jsonRpc.ts';
import type { ApiServices } from '../apiServices.ts';
import { method, type MethodTable } from '../methodTypes.ts';
import { notFound } from './common.ts';
import { ErrorCodes } from '../../../machines/shared/errors.ts';
import type { Principal } from '../../accounts/accountTypes.ts';
import { KioskScanner } from '../../../drivers/scanners/kioskScanner.ts';
import type { NetworkScanner } from '../../../drivers/scanners/networkScanner.ts';
import { MAX_READ_CHARS } from '../../../drivers/scanners/scannerDriver.ts';

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * A read's text, bounded as the drivers bound theirs: in UTF-16 units (String.length), which is
 * what they cut at. zod's own max() counts code points, which let 8 KiB of emoji through.
 */
const readText = z.string().refine((text) => text.length <= MAX_READ_CHARS, { message: `Too big: expected at most ${MAX_READ_CHARS} characters (UTF-16 units)` });

export function scannerMethods(api: ApiServices): MethodTable {
  return {
    'scanners.list': method({ role: 'viewer', params: z.strictObject({}), handler: () => api.monitor.scanners() }),
    'scanners.get': method({
      role: 'viewer',
      params: z.strictObject({ scanner: z.string().min(1).max(64) }),
      doorsOf: ({ scanner }) => doorOf(scanner),
      handler: ({ scanner }) => api.monitor.scanner(scanner) ?? notFound('scanner', scanner),
    }),
    /**
     * A read from a network scanner. A scanner device's token reads for its own scanner; an
     * integrator (the CLI's `postern scan`, tests) names the network scanner it reads for.
     * A kiosk is refused, its own token too: its reads are what its tablet's camera saw
     * (scanner.frame), so text sent to one is a mistake, or someone passing off text as a
     * visitor at that door.
     */
    'scanner.read': method({
      role: 'scanner',
      params: z.strictObject({ text: readText, scanner: z.string().min(1).max(64).optional() }),
      doorsOf: ({ scanner }) => doorOf(scanner),
      handler: ({ text, scanner }, { principal }) => {
        const { id, driver } = networkScannerFor(principal, scanner);
        if (driver instanceof KioskScanner) {
          throw new RpcError(RpcErrorCodes.invalidParams, `scanner: "${id}" is a kiosk scanner: its reads are its tablet's camera frames (scanner.frame), not text`, { code: ErrorCodes.INVALID_ARGUMENT, field: 'scanner' });
        }
        return standIn(principal, driver, async () => ({ scanner: id, ...(await driver.read(text)) }));
      },
    }),
    /**
     * A camera frame from a kiosk page, as a JPEG or PNG in base64. The answer says whether it held
     * a code and, when that code was passed on, the door's verdict; never the code itself.
     */
    'scanner.frame': method({
      role: 'scanner',
      params: z.strictObject({ image: z.string().min(4).max(api.config.api.maxMessageBytes).regex(BASE64, 'must be base64'), scanner: z.string().min(1).max(64).optional() }),
      doorsOf: ({ scanner }) => doorOf(scanner),
      handler: ({ image, scanner }, { principal }) => {
        const { id, driver } = networkScannerFor(principal, scanner);
        if (!(driver instanceof KioskScanner)) {
          throw new RpcError(RpcErrorCodes.invalidParams, `scanner: "${id}" is not a kiosk scanner`, { code: ErrorCodes.INVALID_ARGUMENT, field: 'scanner' });
        }
        return standIn(principal, driver, async () => ({ scanner: id, ...(await driver.frame(Buffer.from(image, 'base64'))) }));
      },
    }),
  };

  /** The door of a scanner of the site file (none for an unknown one: the handler says it is not found). */
  function doorOf(scanner: string | undefined): string[] {
    const door = scanner === undefined ? undefined : api.monitor.scanner(scanner)?.door;
    return door === undefined ? [] : [door];
  }

  /** A scanner device's token reads for its own scanner; an integrator names the one it reads for. */
  function networkScannerFor(principal: Principal, scanner: string | undefined): { id: string; driver: NetworkScanner } {
    const id = principal.role === 'scanner' ? principal.scanner : scanner;
    if (principal.role === 'scanner' && scanner !== undefined && scanner !== id) {
      throw new RpcError(RpcErrorCodes.forbidden, `forbidden: this token reads for scanner "${id}" only`, { code: ErrorCodes.FORBIDDEN });
    }
    if (id == null) throw new RpcError(RpcErrorCodes.invalidParams, 'scanner: name the network scanner to read for', { code: ErrorCodes.INVALID_ARGUMENT, field: 'scanner' });
    const driver = api.networkScanners.get(id);
    if (driver === undefined) {
      if (api.monitor.scanner(id) === undefined) notFound('scanner', id);
      throw new RpcError(RpcErrorCodes.invalidParams, `scanner: "${id}" is not a network scanner`, { code: ErrorCodes.INVALID_ARGUMENT, field: 'scanner' });
    }
    return { id, driver };
  }
}

/** An integrator reading for a scanner stands in for its device during the read. */
async function standIn<T>(principal: Principal, driver: NetworkScanner, read: () => Promise<T>): Promise<T> {
  const detach = principal.role === 'scanner' ? undefined : driver.attach();
  try {
    return await read();
  } finally {
    detach?.();
  }
}
