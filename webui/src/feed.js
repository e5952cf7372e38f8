/** The live event feed (audit topic) with filters, and its CSV export built in the browser. */
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { filterParams, rpc, setFeedFilter } from './connection.js';
import { csvHeader, csvRow, download, holderTerms } from './format.js';
import { EventTable } from './doors.js';
import { state } from './store.js';
import { ErrorText, useAction } from './ui.js';

const PAGE = 1000;
/** Typing pauses this long before the feed asks the controller: not one query per key. */
const TYPING_MS = 300;

/** Every event matching the filter, oldest first, read page by page; onProgress(count). */
export async function exportCsv(filter, onProgress) {
  const parts = [csvHeader()];
  let count = 0;
  let next = {};
  for (;;) {
    const page = await rpc('audit.query', { ...filterParams(filter), order: 'asc', limit: PAGE, ...next });
    for (const e of page.events) parts.push(csvRow(e));
    count += page.events.length;
    onProgress(count);
    if (!page.next) break;
    next = page.next;
  }
  const name = `postern-audit-${state.controllerId ?? 'site'}-${new Date().toISOString().slice(0, 19).replace(/[:T]/g, '')}.csv`;
  download(new Blob(parts, { type: 'text/csv;charset=utf-8' }), name);
  return count;
}

export function Feed({ doors, feed, filter }) {
  const [holder, setHolder] = useState(filter.holder || filter.subject);
  const [exported, setExported] = useState(null);
  const [run, busy, error] = useAction();
  // The filter of the moment, not of this render: a debounced change must not undo another.
  const change = (patch) => run(() => setFeedFilter({ ...state.feedFilter, ...patch }));

  useEffect(() => {
    const terms = holderTerms(holder);
    if (terms.subject === state.feedFilter.subject && terms.holder === state.feedFilter.holder) return;
    const timer = setTimeout(() => change(terms), TYPING_MS);
    return () => clearTimeout(timer);
  }, [holder]);

  return html`<section class="panel feed" aria-labelledby="feed-h">
    <div class="panel-head">
      <h2 id="feed-h">Live events</h2>
      <button
        type="button"
        disabled=${busy}
        onClick=${() =>
          run(async () => {
            setExported('exporting…');
            const count = await exportCsv(filter, (n) => setExported(`exporting… ${n} events`));
            setExported(`${count} events exported`);
          })}
      >
        Export CSV
      </button>
    </div>
    <form class="filters" onSubmit=${(e) => e.preventDefault()} aria-label="Filter events">
      <label>Door
        <select name="door" value=${filter.door} onChange=${(e) => change({ door: e.currentTarget.value })}>
          <option value="">all doors</option>
          ${doors.map((d) => html`<option value=${d.id}>${d.name}</option>`)}
        </select>
      </label>
      <label>Verdict
        <select name="verdict" value=${filter.verdict} onChange=${(e) => change({ verdict: e.currentTarget.value })}>
          <option value="">any event</option>
          <option value="grant">granted</option>
          <option value="deny">denied</option>
        </select>
      </label>
      <label>Holder
        <input
          name="holder"
          type="search"
          maxlength="200"
          autocomplete="off"
          placeholder="name or id"
          value=${holder}
          onInput=${(e) => setHolder(e.currentTarget.value)}
        />
      </label>
      ${exported && html`<span class="muted" role="status">${exported}</span>`}
    </form>
    <${ErrorText} error=${error} />
    <div class="feed-scroll" id="feed">
      <${EventTable} events=${feed} />
      ${feed.length === 0 && html`<p class="muted">No event${filter.door || filter.verdict || filter.subject || filter.holder ? ' matches these filters' : ' yet'}.</p>`}
    </div>
  </section>`;
}
