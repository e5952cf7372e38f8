/** The operator page's entry: renders the app and opens the session. */
import { render } from 'preact';
import { html } from 'htm/preact';
import { App } from './app.js';
import { start } from './connection.js';

render(html`<${App} />`, document.getElementById('app'));
void start();
