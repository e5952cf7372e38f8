import type { ApiServices } from '../apiServices.ts';
import type { MethodTable } from '../methodTypes.ts';
import { accountMethods } from './accountMethods.ts';
import { demoMethods } from './demoMethods.ts';
import { discoverMethods } from './discoverMethods.ts';
import { doorMethods } from './doorMethods.ts';
import { enrolmentMethods } from './enrolmentMethods.ts';
import { issuingMethods } from './issuingMethods.ts';
import { scannerMethods } from './scannerMethods.ts';
import { syncMethods } from './syncMethods.ts';
import { systemMethods } from './systemMethods.ts';
import { webhookMethods } from './webhookMethods.ts';

/** Every method of the integrator API, by name. */
export function allMethods(api: ApiServices): MethodTable {
  return { ...systemMethods(api), ...doorMethods(api), ...scannerMethods(api), ...issuingMethods(api), ...accountMethods(api), ...enrolmentMethods(api), ...demoMethods(api), ...webhookMethods(api), ...syncMethods(api), ...discoverMethods(api, allMethods) };
}
