/**
 * rpc.discover (the OpenRPC service discovery method): the API's contract, made from the method
 * table the controller serves, this method included.
 */
import { z } from 'zod';
import type { ApiServices } from '../apiServices.ts';
import { method, type MethodTable } from '../methodTypes.ts';
import { openRpcDocument, type OpenRpcDocument } from '../openRpc.ts';

/**
 * `table` makes the full method table; it is called at the first rpc.discover, not before, since
 * this method is part of the table it describes.
 */
export function discoverMethods<Api extends Pick<ApiServices, 'version'>>(api: Api, table: (api: Api) => MethodTable): MethodTable {
  let document: OpenRpcDocument | undefined;
  return {
    'rpc.discover': method({
      role: 'viewer',
      params: z.strictObject({}),
      handler: () => (document ??= openRpcDocument(table(api), String(api.version))),
    }),
  };
}
