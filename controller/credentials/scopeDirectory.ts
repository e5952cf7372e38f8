/**
 * Which doors a scope id names: the site file's scopes, plus door sets the store made for links
 * issued with a list of doors. Door sets are immutable once made, so a cached one never goes stale;
 * an id not seen yet is looked up once (it may have been made by the CLI in another process).
 */
import type { ScopeConfig } from '../config/configSchema.ts';
import { FIRST_DOOR_SET_SCOPE } from '../config/configSchema.ts';
import type { Store } from '../store/storeTypes.ts';

export class ScopeDirectory {
  private readonly scopes = new Map<number, ReadonlySet<string>>();

  constructor(
    configScopes: readonly ScopeConfig[],
    private readonly store: Pick<Store, 'listDoorSets'>,
  ) {
    for (const scope of configScopes) this.scopes.set(scope.id, new Set(scope.doors));
  }

  async doorsOf(scopeId: number): Promise<ReadonlySet<string> | undefined> {
    const known = this.scopes.get(scopeId);
    if (known !== undefined || scopeId < FIRST_DOOR_SET_SCOPE) return known;
    await this.refresh();
    return this.scopes.get(scopeId);
  }

  async refresh(): Promise<void> {
    for (const set of await this.store.listDoorSets()) this.scopes.set(set.id, new Set(set.doors));
  }
}
