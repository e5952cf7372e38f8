/**
 * Door scopes as people name them. A scope of the site file has the name given there; a door set
 * (made for a link issued with a list of doors) is named by its doors, in the site file's order:
 * "Front door, Lab". Nobody should have to read a scope id, least of all 1073741824.
 */
import type { SiteConfig } from '../config/configSchema.ts';
import { ScopeDirectory } from '../credentials/scopeDirectory.ts';
import type { Store } from '../store/storeTypes.ts';

export interface NamedScope {
  id: number;
  name: string;
  /** Door ids, in the site file's order. */
  doors: string[];
  /** 'site': a scope of the site file; 'door-set': made for links issued with a list of doors. */
  source: 'site' | 'door-set';
}

export class ScopeNames {
  readonly #config: Pick<SiteConfig, 'scopes' | 'doors'>;
  readonly #directory: ScopeDirectory;
  readonly #store: Pick<Store, 'listDoorSets'>;

  constructor(config: Pick<SiteConfig, 'scopes' | 'doors'>, store: Pick<Store, 'listDoorSets'>) {
    this.#config = config;
    this.#store = store;
    this.#directory = new ScopeDirectory(config.scopes, store);
  }

  /** Every scope: the site file's in its order, then the door sets, oldest first. */
  async list(): Promise<NamedScope[]> {
    const doorSets = await this.#store.listDoorSets();
    return [
      ...this.#config.scopes.map((s) => this.#named(s.id, new Set(s.doors), s.name)),
      ...doorSets.sort((a, b) => a.id - b.id).map((set) => this.#named(set.id, new Set(set.doors))),
    ];
  }

  /** Scope `id` with its name and doors; undefined for an id no scope has. */
  async describe(id: number): Promise<NamedScope | undefined> {
    const doors = await this.#directory.doorsOf(id);
    if (doors === undefined) return undefined;
    return this.#named(id, doors, this.#config.scopes.find((s) => s.id === id)?.name);
  }

  #named(id: number, doors: ReadonlySet<string>, siteName?: string): NamedScope {
    const inOrder = this.#config.doors.filter((d) => doors.has(d.id));
    return {
      id,
      name: siteName ?? inOrder.map((d) => d.name).join(', '),
      doors: inOrder.map((d) => d.id),
      source: siteName === undefined ? 'door-set' : 'site',
    };
  }
}
