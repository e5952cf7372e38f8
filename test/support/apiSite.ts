/** A running controller with its API on port 0, and tokens of every role. */
import { PassThrough } from 'node:stream';
import type { SiteConfigInput } from '../../controller/config/configSchema.ts';
import { Controller } from '../../controller/controller.ts';
import { makeTokens } from './apiClient.ts';
import { tempDir, testSite } from './testSite.ts';

export interface ApiSite {
  controller: Controller;
  url: string;
  dataDir: string;
  tokens: Record<'viewer' | 'operator' | 'integrator' | 'admin' | 'scanner', string>;
  stop(): Promise<void>;
}

export async function startApiSite(patch: (input: SiteConfigInput) => void = () => {}): Promise<ApiSite> {
  const dataDir = await tempDir('postern-api-');
  const config = testSite(dataDir, (input) => {
    input.scanners = [...(input.scanners ?? []), { id: 'net-1', door: 'lab', driver: 'network', debounceMs: 0 }];
    patch(input);
  });
  const tokens = (await makeTokens(dataDir, [
    { name: 'viewer', role: 'viewer' },
    { name: 'operator', role: 'operator' },
    { name: 'integrator', role: 'integrator' },
    { name: 'admin', role: 'admin' },
    { name: 'scanner', role: 'scanner', scanner: 'net-1' },
  ])) as ApiSite['tokens'];
  const controller = new Controller({ config, terminal: new PassThrough() });
  await controller.start();
  return { controller, url: controller.apiUrl!, dataDir, tokens, stop: () => controller.stop() };
}
