/**
 * sync.status: the hub link as it stands (docs/sync.md), for operators and the web UI. A controller
 * without a `hub` section answers `{ state: 'standalone' }` rather than an error, so a dashboard
 * can ask every controller the same question.
 */
import { z } from 'zod';
import type { ApiServices } from '../apiServices.ts';
import { method, type MethodTable } from '../methodTypes.ts';

export function syncMethods(api: ApiServices): MethodTable {
  return {
    'sync.status': method({
      role: 'viewer',
      params: z.strictObject({}),
      handler: () => (api.sync === undefined ? { state: 'standalone' } : (api.sync.status() ?? { state: 'offline', hub: api.sync.hubUrl })),
    }),
  };
}
