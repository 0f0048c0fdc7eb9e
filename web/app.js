/* dawbridge web page: a thin view over the daemon's JSON API and its event WebSocket (README "Web page").
 * No framework, no build step, nothing fetched from elsewhere. Every change goes through POST /api/...; the page
 * decides nothing itself: outcomes, undo rules and conflicts come from the daemon's events. */
'use strict';

(() => {
  const $ = (sel) => document.querySelector(sel);

  /* the token: from ?token= (then dropped from the address bar), kept for this tab only */
  const params = new URLSearchParams(location.search);
  let token = params.get('token') || sessionStorage.getItem('dawbridge-token') || '';
  if (params.get('token')) {
    sessionStorage.setItem('dawbridge-token', token);
    history.replaceState(null, '', location.pathname);
  }

  const el = (tag, attrs = {}, ...children) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children) if (c !== null && c !== undefined) e.append(c);
    return e;
  };
  const SVG = 'http://www.w3.org/2000/svg';
  const svg = (tag, attrs = {}) => {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    return e;
  };

  async function api(method, path, body) {
    const init = { method, headers: { Authorization: 'Bearer ' + token } };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const r = await fetch(path, init);
    let j = null;
    try { j = await r.json(); } catch (e) { j = null; }
    if (!r.ok) throw new Error((j && j.error) || r.status + ' ' + r.statusText);
    return j;
  }

  /* ---- the session ---- */

  const fmt = (x, d = 1) => (typeof x === 'number' ? x.toFixed(d).replace(/\.0+$/, '') : '–');
  const dB = (v) => (typeof v !== 'number' ? '–' : v <= -150 ? '−∞ dB' : (v > 0 ? '+' : '') + fmt(v) + ' dB');
  const panText = (p) => (typeof p !== 'number' || Math.abs(p) < 0.005 ? 'C' : (p < 0 ? 'L' : 'R') + Math.round(Math.abs(p) * 100));
  const NOTE = ['C', 'C♯', 'D', 'D♯', 'E', 'F', 'F♯', 'G', 'G♯', 'A', 'A♯', 'B'];
  const noteName = (n) => NOTE[n % 12] + (Math.floor(n / 12) - 1);

  function pianoRoll(clip) {
    const notes = Array.isArray(clip.notes) ? clip.notes : [];
    const len = Math.max(clip.length || 0, ...notes.map((n) => n.s + n.d), 1);
    let lo = Math.min(...notes.map((n) => n.n), 127), hi = Math.max(...notes.map((n) => n.n), 0);
    if (!notes.length) { lo = 60; hi = 60; }
    lo = Math.max(0, lo - 2); hi = Math.min(127, hi + 2);
    const rows = hi - lo + 1, W = 400, H = Math.max(48, Math.min(160, rows * 6));
    const bw = W / len, rh = H / rows;
    const label = `Clip ${clip.name || clip.id}: ${notes.length} notes over ${fmt(len, 2)} beats` +
      (notes.length ? `, ${noteName(Math.min(...notes.map((n) => n.n)))} to ${noteName(Math.max(...notes.map((n) => n.n)))}` : '');
    const s = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'roll', role: 'img', 'aria-label': label,
      preserveAspectRatio: 'none', 'data-clip-id': clip.id || '' });
    const title = svg('title'); title.textContent = label; s.append(title);
    for (let b = 0; b <= len; b++) s.append(svg('line', { x1: b * bw, x2: b * bw, y1: 0, y2: H, class: b % 4 ? 'beat' : 'bar' }));
    for (const n of notes) {
      s.append(svg('rect', { x: n.s * bw, y: (hi - n.n) * rh, width: Math.max(1.5, n.d * bw - 1), height: Math.max(2, rh - 1),
        class: 'note', 'fill-opacity': (0.45 + 0.55 * (n.v || 100) / 127).toFixed(2) }));
    }
    return s;
  }

  function renderSession(st) {
    const meta = $('#session-meta');
    meta.replaceChildren();
    if (!st || typeof st !== 'object') {
      meta.append(el('dt', { text: 'Session' }), el('dd', { text: 'not known yet (is the DAW connected?)' }));
      $('#tracks').replaceChildren();
      return;
    }
    const ts = Array.isArray(st.time_signature) ? st.time_signature.join('/') : '';
    const loop = st.loop && st.loop.enabled ? `${fmt(st.loop.start, 2)}–${fmt(st.loop.end, 2)} beats` : 'off';
    const markers = (st.markers || []).map((m) => `${m.name || '#' + m.number} @ ${fmt(m.position, 2)}`).join(', ') || 'none';
    for (const [k, v] of [['Project', st.project || '–'], ['Tempo', `${fmt(st.tempo, 2)} BPM ${ts}`], ['Loop', loop], ['Markers', markers]]) {
      meta.append(el('dt', { text: k }), el('dd', { text: v }));
    }
    const tracks = $('#tracks');
    tracks.replaceChildren();
    for (const t of st.tracks || []) {
      const flags = el('span', { class: 'flags' },
        el('span', { class: 'flag' + (t.mute ? ' on' : ''), text: t.mute ? 'Muted' : 'M', title: t.mute ? 'muted' : 'not muted' }),
        el('span', { class: 'flag' + (t.solo ? ' on' : ''), text: t.solo ? 'Solo' : 'S', title: t.solo ? 'soloed' : 'not soloed' }));
      const fx = (t.fx || []).map((f) => el('li', { class: f.enabled === false ? 'bypassed' : '', text: f.name + (f.enabled === false ? ' (bypassed)' : '') }));
      const clips = (t.clips || []).map((c) => el('li', { class: 'clip' },
        el('span', { class: 'clip-name', text: `${c.name || c.id} · beat ${fmt(c.start, 2)} · ${(c.notes || []).length} notes` }), pianoRoll(c)));
      tracks.append(el('li', { class: 'track', 'data-track-id': t.id, 'data-track-name': t.name || '' },
        el('div', { class: 'track-head' },
          el('strong', { class: 'track-name', text: t.name || t.id }),
          el('span', { class: 'type', text: t.type || '' }),
          flags),
        el('div', { class: 'track-line muted' },
          el('span', { text: t.instrument ? '♪ ' + t.instrument : 'no instrument' }),
          el('span', { text: `vol ${dB(t.volume_db)}` }),
          el('span', { text: `pan ${panText(t.pan)}` })),
        fx.length ? el('ol', { class: 'fx', 'aria-label': 'FX chain' }, ...fx) : null,
        clips.length ? el('ul', { class: 'clips' }, ...clips) : null));
    }
    if (!(st.tracks || []).length) tracks.append(el('li', { class: 'muted', text: 'No tracks.' }));
  }

  let stateTimer = null;
  async function loadState() {
    stateTimer = null;
    try {
      renderSession(await api('GET', '/api/state'));
    } catch (e) {
      showError('#prompt-error', 'Session: ' + e.message);
    }
  }
  const scheduleState = () => { if (!stateTimer) stateTimer = setTimeout(loadState, 100); };

  async function loadStatus() {
    try {
      const s = await api('GET', '/api/status');
      setConn(s.connected ? 'connected' : 'lost', `${s.dialect || ''}${s.model ? ' · model ' + s.model : ''}`);
      running = s.running ? s.running.request : null;
      /* after a reload: what runs and waits now (earlier requests are in the history) */
      if (s.running) {
        const r = reqEntry(s.running.request, s.running.kind, s.running.text, s.running.client);
        r.li.classList.add('running');
        r.li.querySelector('.stage').textContent = s.running.stage || 'running';
      }
      (s.queue || []).forEach((q, i) => {
        reqEntry(q.request, q.kind, q.text, q.client).li.querySelector('.stage').textContent = `queued (${i + 1} ahead)`;
      });
      updateButtons();
    } catch (e) { /* the events socket reports it */ }
  }

  /* ---- the conversation ---- */

  const requests = new Map(); /* id -> {li, kind, iteration, force} */
  const submitted = new Map(); /* id -> what this page asked (for "force" after a conflict) */
  let running = null;

  function reqEntry(id, kind, text, client) {
    let r = requests.get(id);
    if (r) return r;
    const li = el('li', { class: 'req', 'data-request': id },
      el('div', { class: 'req-head' },
        el('span', { class: 'kind', text: kind || 'request' }),
        el('span', { class: 'req-text', text: text || '' }),
        el('span', { class: 'stage muted', text: 'queued' })),
      el('pre', { class: 'plan', hidden: true }),
      el('ol', { class: 'steps' }),
      el('p', { class: 'summary', hidden: true }));
    if (client) li.querySelector('.req-head').append(el('span', { class: 'client muted', text: client }));
    $('#conversation').append(li);
    r = { li, kind };
    requests.set(id, r);
    li.scrollIntoView({ block: 'nearest' });
    return r;
  }

  const OUTCOME = { confirmed: ['✓', 'confirmed'], uncertain: ['?', 'uncertain'], failed: ['✗', 'failed'] };
  function outcomeBadge(outcome) {
    const [sym, word] = OUTCOME[outcome] || ['•', outcome || 'unknown'];
    return el('span', { class: 'outcome out-' + (OUTCOME[outcome] ? outcome : 'other') }, el('span', { 'aria-hidden': 'true', text: sym + ' ' }), word);
  }

  function argsText(tool, a) {
    if (!a || typeof a !== 'object') return '';
    const parts = [];
    for (const k of ['name', 'track_id', 'type', 'instrument', 'effect_name', 'start_time', 'duration', 'bpm', 'volume_db', 'pan']) {
      if (a[k] !== undefined) parts.push(`${k} ${typeof a[k] === 'number' ? fmt(a[k], 2) : a[k]}`);
    }
    if (Array.isArray(a.notes)) parts.push(`${a.notes.length} notes`);
    return parts.join(', ');
  }

  /* follows the newest output unless the musician scrolled up to read */
  function onEvent(ev) {
    const c = $('#conversation');
    const atBottom = c.scrollHeight - c.scrollTop - c.clientHeight < 80;
    handleEvent(ev);
    if (atBottom) c.scrollTop = c.scrollHeight;
  }

  function handleEvent(ev) {
    switch (ev.type) {
      case 'queued': {
        const r = reqEntry(ev.request, ev.kind, ev.text, ev.client);
        r.li.querySelector('.stage').textContent = ev.position ? `queued (${ev.position} ahead)` : 'queued';
        break;
      }
      case 'started': {
        const r = reqEntry(ev.request, ev.kind, ev.text, ev.client);
        r.li.classList.add('running');
        r.li.querySelector('.stage').textContent = 'started';
        running = ev.request;
        updateButtons();
        break;
      }
      case 'stage': {
        const r = reqEntry(ev.request);
        r.li.querySelector('.stage').textContent = ev.stage;
        break;
      }
      case 'plan_delta': {
        const pre = reqEntry(ev.request).li.querySelector('.plan');
        pre.hidden = false;
        pre.textContent += ev.text || '';
        break;
      }
      case 'plan': {
        const r = reqEntry(ev.request);
        const pre = r.li.querySelector('.plan');
        const steps = (ev.plan && ev.plan.steps) || [];
        pre.hidden = false;
        pre.classList.add('final');
        pre.textContent = steps.length
          ? steps.map((s) => `${s.step}. ${s.tool}${s.description ? ' — ' + s.description : ''}`).join('\n')
          : (ev.text || pre.textContent);
        if (ev.errors && ev.errors.length) pre.textContent += '\n' + ev.errors.map((e) => '⚠ ' + (e.message || JSON.stringify(e))).join('\n');
        break;
      }
      case 'step': {
        const r = reqEntry(ev.request);
        const where = ev.index ? `${ev.index}/${ev.total}` : '·';
        r.li.querySelector('.steps').append(el('li', { class: 'step', 'data-outcome': ev.outcome },
          outcomeBadge(ev.outcome),
          el('span', { class: 'step-n muted', text: ` ${where} ` }),
          el('code', { text: ev.tool || '' }),
          el('span', { class: 'muted', text: ' ' + argsText(ev.tool, ev.args) }),
          ev.message ? el('span', { class: 'step-msg', text: ' — ' + ev.message }) : null));
        break;
      }
      case 'violation': {
        const r = reqEntry(ev.request);
        r.li.querySelector('.steps').append(el('li', { class: 'step' }, outcomeBadge('failed'),
          el('span', { text: ' refused: ' + ((ev.violation && ev.violation.message) || JSON.stringify(ev.violation)) })));
        break;
      }
      case 'done': onDone(ev); break;
      case 'error':
        if (ev.request) {
          const r = reqEntry(ev.request);
          r.li.querySelector('.steps').append(el('li', { class: 'step' }, outcomeBadge('failed'), el('span', { text: ' ' + ev.message })));
        } else {
          showError('#prompt-error', ev.message);
        }
        break;
      case 'state': scheduleState(); break;
      case 'connection':
        setConn(ev.state === 'lost' ? 'lost' : 'connected', ev.message || '');
        scheduleState();
        break;
      case 'conversation':
        $('#conversation').append(el('li', { class: 'divider muted', text: 'New conversation' }));
        break;
      default: break;
    }
  }

  function onDone(ev) {
    const r = reqEntry(ev.request, ev.kind);
    r.li.classList.remove('running');
    const ok = ev.status === 'ok';
    const word = ok ? 'done' : ev.status === 'cancelled' ? 'cancelled' : ev.status;
    r.li.querySelector('.stage').textContent = word;
    r.li.classList.add(ok ? 'ok' : ev.status === 'cancelled' ? 'cancelled' : 'not-ok');
    const p = r.li.querySelector('.summary');
    p.hidden = false;
    p.replaceChildren(
      el('span', { class: 'outcome ' + (ok && !ev.uncertain && !ev.failed ? 'out-confirmed' : ev.failed || !ok ? 'out-failed' : 'out-uncertain') },
        ok && !ev.uncertain && !ev.failed ? 'Done' : ok ? 'Done, with doubts' : 'Not done'),
      el('span', { text: (ev.total ? `: ${ev.confirmed || 0} of ${ev.total} confirmed` : '') + (ev.uncertain ? `, ${ev.uncertain} uncertain` : '') +
        (ev.failed ? `, ${ev.failed} failed` : '') + (ev.iteration ? ` · iteration ${ev.iteration}` : '') }),
      ev.summary ? el('span', { class: 'summary-text', text: ' — ' + ev.summary }) : null);
    if (ev.status === 'conflict' && (ev.kind === 'undo' || ev.kind === 'restore')) {
      const mine = submitted.get(ev.request) || { kind: ev.kind, iteration: 0 };
      const box = el('div', { class: 'conflict', role: 'alert' },
        el('span', { text: 'You changed this since. Keep your edits (do nothing), or revert them too: ' }),
        el('button', { type: 'button', class: 'danger', onclick: () => submit(mine.kind, { iteration: mine.iteration, force: true }) },
          mine.kind === 'undo' ? 'Undo anyway' : 'Restore anyway'));
      p.append(box);
      box.scrollIntoView({ block: 'nearest' });
    }
    if (running === ev.request) running = null;
    updateButtons();
    loadHistory();
    scheduleState();
  }

  function updateButtons() { $('#cancel').hidden = running === null; }

  async function submit(kind, body) {
    hideError('#prompt-error');
    try {
      const res = await api('POST', '/api/' + kind, body);
      if (res && res.request) submitted.set(res.request, { kind, iteration: (body && body.iteration) || 0 });
      return res;
    } catch (e) {
      showError('#prompt-error', e.message);
      return null;
    }
  }

  /* ---- the history ---- */

  async function loadHistory() {
    try {
      const h = await api('GET', '/api/history');
      hideError('#history-error');
      renderHistory(h.iterations || []);
    } catch (e) {
      showError('#history-error', 'History: ' + e.message);
    }
  }

  function renderHistory(list) {
    const ol = $('#iterations');
    ol.replaceChildren();
    const items = [...list].sort((a, b) => b.number - a.number);
    items.forEach((it, i) => {
      const diff = el('pre', { class: 'diff', text: 'loading…' });
      const details = el('details', {}, el('summary', { text: 'What changed' }), diff);
      const load = async () => {
        try {
          const full = await api('GET', '/api/iteration/' + it.number);
          diff.textContent = full.diff_text || (it.number === 1 ? '(the first iteration: nothing before it)' : '(no difference)');
        } catch (e) { diff.textContent = e.message; }
      };
      details.addEventListener('toggle', () => { if (details.open && diff.textContent === 'loading…') load(); });
      if (i === 0) { details.open = true; load(); }
      const when = (it.timestamp || '').replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
      ol.append(el('li', { class: 'iteration', 'data-iteration': it.number, value: it.number },
        el('div', { class: 'it-head' },
          el('strong', { text: `#${it.number}` }),
          el('span', { class: 'source', text: it.source || '' }),
          el('span', { class: 'muted', text: when })),
        el('p', { class: 'it-text', text: it.user_message || '(no request)' }),
        details,
        el('div', { class: 'buttons' },
          it.source === 'baseline' ? null : el('button', { type: 'button', onclick: () => submit('undo', { iteration: it.number }), 'aria-label': `Undo iteration ${it.number}` }, 'Undo'),
          el('button', { type: 'button', class: 'quiet', onclick: () => submit('restore', { iteration: it.number }), 'aria-label': `Restore iteration ${it.number}` }, 'Restore'))));
    });
    if (!items.length) ol.append(el('li', { class: 'muted', text: 'No iterations yet.' }));
  }

  /* ---- connection, errors ---- */

  function setConn(state, detail) {
    const b = $('#conn');
    b.textContent = state === 'connected' ? 'DAW connected' : state === 'lost' ? 'DAW not connected' : state;
    b.className = 'badge ' + (state === 'connected' ? 'ok' : 'bad');
    if (detail !== undefined) $('#summary-line').textContent = detail;
  }
  function showError(sel, text) { const p = $(sel); p.textContent = text; p.hidden = false; }
  function hideError(sel) { $(sel).hidden = true; }

  let backoff = 500;
  function connectEvents() {
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/events?token=${encodeURIComponent(token)}`);
    ws.onopen = () => { backoff = 500; document.body.dataset.events = 'open'; loadStatus(); loadState(); loadHistory(); };
    ws.onmessage = (m) => { try { onEvent(JSON.parse(m.data)); } catch (e) { console.error(e); } };
    ws.onclose = () => {
      document.body.dataset.events = 'closed';
      setConn('page disconnected: retrying…');
      setTimeout(connectEvents, backoff);
      backoff = Math.min(backoff * 2, 10000);
    };
  }

  /* ---- wiring ---- */

  $('#prompt').addEventListener('submit', async (e) => {
    e.preventDefault();
    const ta = $('#prompt-text');
    const text = ta.value.trim();
    if (!text) return;
    const res = await submit('ask', { text });
    if (res) ta.value = '';
  });
  $('#prompt-text').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); $('#prompt').requestSubmit(); }
  });
  $('#cancel').addEventListener('click', () => submit('cancel', running ? { request: running } : {}));
  $('#new-conv').addEventListener('click', () => submit('new'));
  document.addEventListener('keydown', (e) => { if (e.key === 'Escape' && running !== null) submit('cancel', { request: running }); });

  if (!token) {
    showError('#prompt-error', 'No token: open the address dawbridge printed when it started (…/?token=…).');
  } else {
    connectEvents();
  }
})();
