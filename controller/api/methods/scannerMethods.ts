import { z } from 'zod';
import { RpcError, RpcErrorCodes } from '../jsonRpc.ts';
import type { ApiServices } from '../apiServices.ts';
import { method, type MethodTable } from '../methodTypes.ts';
import { notFound } from './common.ts';
import { ErrorCodes } from '../../errors.ts';

export function scannerMethods(api: ApiServices): MethodTable {
  return {
    'scanners.list': method({ role: 'viewer', params: z.strictObject({}), handler: () => api.monitor.scanners() }),
    'scanners.get': method({
      role: 'viewer',
      params: z.strictObject({ scanner: z.string().min(1).max(64) }),
      handler: ({ scanner }) => api.monitor.scanner(scanner) ?? notFound('scanner', scanner),
    }),
    /**
     * A read from a network scanner. A scanner device's token reads for its own scanner; an
     * integrator (the CLI's `postern scan`, tests) names the network scanner it reads for.
     */
    'scanner.read': method({
      role: 'scanner',
      params: z.strictObject({ text: z.string().max(4096), scanner: z.string().min(1).max(64).optional() }),
      handler: async ({ text, scanner }, { principal }) => {
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
        // An integrator reading for the scanner stands in for its device during the read.
        const detach = principal.role === 'scanner' ? undefined : driver.attach();
        try {
          return { scanner: id, ...(await driver.read(text)) };
        } finally {
          detach?.();
        }
      },
    }),
  };
}
