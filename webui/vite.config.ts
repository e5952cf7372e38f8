/**
 * The operator web UI and the /badge page, built by Vite into webui/dist, which the controller
 * serves. `npm run build:ui` builds it; `npx vite --config webui/vite.config.ts` serves it for
 * development against a controller on 127.0.0.1:8080 (POSTERN_UI_PROXY names another).
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));
const controller = process.env.POSTERN_UI_PROXY ?? 'http://127.0.0.1:8080';

export default defineConfig({
  root,
  base: '/',
  // webui/public: the badge's service worker (/badge-sw.js), manifest and icons, copied as they are.
  publicDir: `${root}public`,
  build: {
    outDir: `${root}dist`,
    emptyOutDir: true,
    target: 'es2022',
    rolldownOptions: {
      input: { index: `${root}index.html`, badge: `${root}badge.html`, kiosk: `${root}kiosk.html`, hub: `${root}hub.html` },
    },
  },
  server: {
    proxy: {
      '/auth': controller,
      '/socket.io': { target: controller, ws: true },
    },
  },
});
