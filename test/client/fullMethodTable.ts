/**
 * The whole method table, every optional part offered (accounts, enrolments, webhooks, the demo's
 * doors), built without a controller: what the contract and the client's types describe. The
 * services are empty stand-ins; building the table only reads the config's message limit.
 */
import type { ApiServices } from '../../controller/api/apiServices.ts';
import { allMethods } from '../../controller/api/methods/allMethods.ts';
import type { MethodTable } from '../../controller/api/methodTypes.ts';
import type { OpenRpcDocument } from '../../controller/api/openRpc.ts';
import { VERSION } from '../../controller/version.ts';

export function fullMethodTable(): MethodTable {
  const api = { config: { api: { maxMessageBytes: 65_536 } }, accounts: {}, enrolments: {}, webhooks: {}, demo: {}, issuing: {}, version: VERSION } as unknown as ApiServices;
  return allMethods(api);
}

/** The document rpc.discover answers for the full table. */
export async function fullDocument(): Promise<OpenRpcDocument> {
  return (await fullMethodTable()['rpc.discover']!.handler({}, undefined as never)) as OpenRpcDocument;
}
