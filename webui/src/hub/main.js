/** The hub page's entry: renders the page and signs in with the token kept in this tab, if any. */
import { render } from 'preact';
import { html } from 'htm/preact';
import { HubApp } from './hubApp.js';
import { start } from './hubConnection.js';

render(html`<${HubApp} />`, document.getElementById('app'));
void start();
