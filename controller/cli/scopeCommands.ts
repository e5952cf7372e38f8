/** `postern scope list`: the site's door scopes by name, so that no one has to read a scope id. */
import { ScopeNames } from '../issuing/scopeNames.ts';
import { opening, type StoreOptions } from './args.ts';
import type { CliEnvironment } from './cliContext.ts';
import { withReadContext } from './cliContext.ts';
import { writeList } from './format.ts';

export async function listScopes(values: StoreOptions & { json?: boolean }, io: CliEnvironment): Promise<void> {
  await withReadContext(values.config, io.env, async (ctx) => {
    const scopes = await new ScopeNames(ctx.config, ctx.store).list();
    const doorName = new Map(ctx.config.doors.map((d) => [d.id, d.name]));
    writeList(io.stdout, values.json, scopes, ['ID', 'NAME', 'DOORS', 'FROM'], (s) => [String(s.id), s.name, s.doors.map((d) => doorName.get(d) ?? d).join(', '), s.source === 'site' ? 'site file' : 'link --doors']);
  }, opening(values));
}
