/**
 * The hub's operator web UI (webui/hub.html, built by Vite into webui/dist/): the page at `GET /`
 * (and `/hub.html`) and the hashed files under `/assets/` it loads. It signs in and talks to the
 * hub over `GET /api` (WebSocket); nothing here knows of accounts or tokens.
 *
 * Served with the controller's own static-file pieces (controller/web/staticFiles.ts): only regular
 * files inside dist/ (no `..`, encoded slash, dot file or symbolic link out of it), the content type
 * by extension, the same strict Content-Security-Policy and headers as the controller's web UI. The
 * controller's other pages (index, badge, kiosk) are not served here: they need a controller.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';

import type { Logger } from '../logger.ts';
import { projectRoot } from '../projectRoot.ts';
import { ASSET_CACHE, decodePath, methodAllowed, PAGE_CACHE, regularFile, resolveInside, send, stream } from '../web/staticFiles.ts';

export const HUB_PAGE = 'hub.html';

export const HUB_UI_NOT_BUILT = 'The hub web UI is not built: run `npm run build:ui` in the hub\'s folder (it makes webui/dist/), then reload this page.\n';

export interface HubWebUiOptions {
  /** The folder Vite builds into; default webui/dist/ of the project. */
  distDir?: string;
  logger: Logger;
}

/**
 * The request handler of the hub's web UI: true when it answered the request (its path is the
 * page's or an asset's), false to leave the request to the hub's other endpoints.
 */
export type HubWebUiHandler = (req: IncomingMessage, res: ServerResponse, pathname: string) => boolean;

export function hubWebUi({ distDir, logger }: HubWebUiOptions): HubWebUiHandler {
  const root = path.resolve(distDir ?? path.join(projectRoot(), 'webui', 'dist'));
  return (req, res, pathname) => {
    if (pathname === '/' || pathname === `/${HUB_PAGE}`) {
      if (!methodAllowed(req, res)) return true;
      // Looked up at each request: a build made while the hub runs is served without a restart.
      const file = resolveInside(root, HUB_PAGE);
      const stats = file === undefined ? undefined : regularFile(file);
      if (file === undefined || stats === undefined) send(req, res, 503, HUB_UI_NOT_BUILT, 'text/plain; charset=utf-8');
      else stream(req, res, file, stats, PAGE_CACHE, logger);
      return true;
    }
    if (!pathname.startsWith('/assets/')) return false;
    if (!methodAllowed(req, res)) return true;
    // From the raw URL, not the parsed pathname: decodePath refuses an encoded slash or a dot segment
    // that URL parsing would have resolved away.
    const relative = decodePath((req.url ?? '').split('?')[0]!.slice(1));
    const file = relative === undefined || !relative.startsWith('assets/') ? undefined : resolveInside(root, relative);
    const stats = file === undefined ? undefined : regularFile(file);
    if (file === undefined || stats === undefined) send(req, res, 404, 'not found\n', 'text/plain; charset=utf-8');
    else stream(req, res, file, stats, ASSET_CACHE, logger);
    return true;
  };
}
