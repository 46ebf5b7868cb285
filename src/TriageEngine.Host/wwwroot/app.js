// TriageEngine web UI: plain ES module, no build step. Every call carries the API key from sign-in.
const main = document.getElementById('main');
const state = { key: sessionStorage.getItem('triage.key'), me: null, feed: null, reloadTimer: null, tick: null };

const esc = s => String(s ?? '').replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));

async function api(path, opts = {}) {
  const headers = { ...(opts.headers || {}) };
  if (state.key) headers['X-Api-Key'] = state.key;
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(path, { ...opts, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
  if (r.status === 401) { signOut('Your key was not accepted.'); throw new Error('unauthorized'); }
  return r;
}

async function json(path, opts) {
  const r = await api(path, opts);
  const body = r.headers.get('content-type')?.includes('json') ? await r.json() : null;
  if (!r.ok) throw new Error(body?.title || `HTTP ${r.status}`);
  return body;
}

function signOut(message) {
  sessionStorage.removeItem('triage.key');
  state.key = null; state.me = null;
  state.feed?.abort(); state.feed = null;
  location.hash = '';
  location.reload();
  if (message) console.warn(message);
}

async function signIn(key) {
  state.key = key;
  const r = await fetch('/api/v1/me', { headers: { 'X-Api-Key': key } });
  if (!r.ok) { state.key = null; throw new Error(r.status === 401 ? 'Unknown API key.' : `Sign-in failed (${r.status}).`); }
  state.me = await r.json();
  sessionStorage.setItem('triage.key', key);
}

function startFeed() {
  if (state.feed) return;
  const ctl = new AbortController();
  state.feed = ctl;
  const live = document.getElementById('live');
  (async () => {
    while (!ctl.signal.aborted) {
      try {
        const r = await fetch('/api/v1/worklist/changes', { headers: { 'X-Api-Key': state.key }, signal: ctl.signal });
        const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let i;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, i); buf = buf.slice(i + 2);
            const ev = /^event: (.*)$/m.exec(block)?.[1];
            if (ev === 'ready') { live.className = 'live on'; live.dataset.state = 'on'; }
            if (ev === 'change') onChange(JSON.parse(/^data: (.*)$/m.exec(block)[1]));
          }
        }
      } catch (e) { if (ctl.signal.aborted) return; }
      live.className = 'live off'; live.dataset.state = 'off';
      await new Promise(res => setTimeout(res, 2000));
    }
  })();
}

function onChange(change) {
  clearTimeout(state.reloadTimer);
  state.reloadTimer = setTimeout(() => {
    const view = location.hash.split('/')[0];
    if (view === '' || view === '#worklist') renderWorklist();
    if (view === '#study' && decodeURIComponent(location.hash.split('/')[1]) === change.studyInstanceUid && change.actor !== state.me?.name) {
      // someone else changed this study: re-render, unless an override is being typed (then say so instead)
      const typing = document.getElementById('ov-reason')?.value;
      if (typing) document.getElementById('ov-msg').textContent = 'This study changed meanwhile; its view refreshes after your override.';
      else renderStudy(change.studyInstanceUid);
    }
    if (view === '#ops') renderOps();
  }, 150);
}

function countdown(dueAt) {
  const ms = new Date(dueAt) - Date.now();
  const m = Math.round(Math.abs(ms) / 60000);
  const text = m >= 60 ? `${Math.floor(m / 60)} h ${m % 60} min` : `${m} min`;
  return ms < 0 ? `<span class="overdue">overdue ${text}</span>` : `${text} left`;
}

async function renderWorklist() {
  const items = await json('/api/v1/worklist?limit=200');
  main.innerHTML = `<section class="card"><h1>Worklist <span class="muted">(${items.length})</span></h1>
    <table data-testid="worklist"><thead><tr><th>#</th><th>Priority</th><th>Study</th><th>AI</th><th>Why</th><th>SLA</th><th>Reading</th></tr></thead><tbody>
    ${items.map(i => `<tr class="pc pc-${i.priorityClass}" data-uid="${esc(i.studyInstanceUid)}" data-testid="row">
      <td>${i.rank}</td>
      <td><span class="badge ${i.priorityClass}">${i.priorityClass}</span><div class="muted">${i.score.toFixed(0)}</div></td>
      <td><a href="#study/${encodeURIComponent(i.studyInstanceUid)}" data-testid="open">${esc(i.description || i.studyInstanceUid)}</a>
        <div class="muted">${esc(i.modality)} · ${esc(i.accessionNumber)} · ${i.instances} images</div></td>
      <td>${i.findings.map(f => `<div class="${f.flagged ? 'flag' : 'muted'}">${f.flagged ? '⚑ ' : ''}${esc(f.finding)} ${f.score.toFixed(2)} / ${f.threshold.toFixed(2)}</div>`).join('') || '<span class="muted">–</span>'}</td>
      <td>${esc(i.summary)}</td>
      <td data-due="${esc(i.dueAt)}">${countdown(i.dueAt)}</td>
      <td>${i.readingState === 'claimed' ? `claimed by ${esc(i.claimedBy)}` : `<button type="button" data-claim="${esc(i.studyInstanceUid)}" data-testid="claim">Claim</button>`}</td>
    </tr>`).join('')}</tbody></table></section>`;
  main.querySelectorAll('[data-claim]').forEach(b => b.onclick = async () => {
    b.disabled = true;
    try { await json(`/api/v1/studies/${encodeURIComponent(b.dataset.claim)}/claim`, { method: 'POST' }); location.hash = `#study/${encodeURIComponent(b.dataset.claim)}`; }
    catch (e) { alert(e.message); b.disabled = false; }
  });
}

function loadImage(img, url) {
  return api(url).then(r => r.ok ? r.blob() : Promise.reject(new Error(`image ${r.status}`)))
    .then(b => { if (img.src.startsWith('blob:')) URL.revokeObjectURL(img.src); img.src = URL.createObjectURL(b); img.dataset.loaded = 'true'; });
}

async function renderStudy(uid) {
  const s = await json(`/api/v1/studies/${encodeURIComponent(uid)}`);
  const p = s.priority;
  const mine = s.reading.state === 'claimed' && s.reading.claimedBy === state.me?.name;
  // the key image: where the flagged (else top-scoring) finding's model scored highest; its heat map is that model's
  const keyAi = [...s.aiResults].filter(a => a.keyImage).sort((a, b) => (b.flagged - a.flagged) || (b.score - a.score))[0];
  const heatAi = [...s.aiResults].filter(a => a.heatMap).sort((a, b) => (b.flagged - a.flagged) || (b.score - a.score))[0];
  const windows = ['', 'brain', 'subdural', 'stroke', 'bone', 'soft-tissue', 'lung', 'mediastinum', 'abdomen', 'liver'];
  main.innerHTML = `
    <section class="card"><a href="#worklist">← Worklist</a>
      <h1><span class="badge ${p.priorityClass}" data-testid="study-class">${p.priorityClass}</span> ${esc(s.description || s.studyInstanceUid)}</h1>
      <div class="muted">${esc(s.modality)} · ${esc(s.accessionNumber)} · ${s.instances} images in ${s.series.length} series · ${countdown(p.dueAt)}</div>
      <ul>${p.reasons.map(r => `<li>${esc(r)}</li>`).join('')}</ul>
      <p data-testid="reading">Reading: <strong>${esc(s.reading.state)}</strong>${s.reading.claimedBy ? ` by ${esc(s.reading.claimedBy)}` : ''}</p>
      ${s.reading.state === 'unclaimed' ? '<button type="button" id="claim" data-testid="claim">Claim</button>' : ''}
      ${mine ? '<button type="button" id="release">Release</button> <button type="button" id="complete">Complete</button>' : ''}
    </section>
    <section class="card"><h2>Images</h2>
      <div class="thumbs">${s.series.map(se => `<img alt="series ${esc(se.description || se.seriesInstanceUid)}" data-series="${esc(se.seriesInstanceUid)}" data-sop="${esc(se.sopInstanceUids[Math.floor(se.sopInstanceUids.length / 2)])}">`).join('')}</div>
      <p><label>Window <select id="window">${windows.map(w => `<option value="${w}">${w || 'header'}</option>`).join('')}</select></label>
         <label><input type="checkbox" id="overlay" ${heatAi ? 'checked' : 'disabled'}> AI heat map</label></p>
      <img id="key-image" alt="key image" data-testid="key-image">
      <p class="muted" id="key-caption" data-testid="key-caption"></p>
    </section>
    <section class="card"><h2>AI results</h2>
      ${s.aiResults.map(a => `<div data-testid="ai-result"><strong class="${a.flagged ? 'flag' : ''}">${esc(a.finding)}</strong> ${a.score.toFixed(2)} (threshold ${a.threshold.toFixed(2)}, ${esc(a.operatingPoint)}) — ${esc(a.model)} ${esc(a.modelVersion)} on ${esc(a.provider)}
        <div>Feedback: <button type="button" data-fb="${esc(a.model)}|${esc(a.finding)}|true|true">Agree, present</button>
        <button type="button" data-fb="${esc(a.model)}|${esc(a.finding)}|false|false">Disagree, absent</button>
        <button type="button" data-fb="${esc(a.model)}|${esc(a.finding)}|false|true">Disagree, present</button>
        <span class="muted">${a.feedback.map(f => `${esc(f.actor)}: ${f.agree ? 'agrees' : 'disagrees'}, ${f.present ? 'present' : 'absent'}`).join('; ')}</span></div></div>`).join('') || '<p class="muted">No AI model applied.</p>'}
    </section>
    <section class="card"><h2>Override priority</h2>
      <form id="override" data-testid="override">
        <select id="ov-class"><option>critical</option><option>stat</option><option>urgent</option><option>routine</option></select>
        <input id="ov-reason" placeholder="reason (required)" required maxlength="500">
        <label><input type="checkbox" id="ov-next"> read next</label>
        <button type="submit">Override</button> <span id="ov-msg" class="error"></span>
      </form>
    </section>
    <section class="card"><h2>Priority history</h2>
      <ol data-testid="history">${s.history.map(h => `<li>${new Date(h.at).toLocaleString()} — ${esc(h.kind)} by ${esc(h.actor)}: <span class="badge ${h.priorityClass}">${h.priorityClass}</span> ${esc(h.reason || '')}</li>`).join('') || '<li class="muted">Only the policy has decided so far.</li>'}</ol>
    </section>`;
  const key = document.getElementById('key-image');
  const caption = document.getElementById('key-caption');
  const thumbs = [...main.querySelectorAll('.thumbs img')];
  const toRef = img => ({ series: img.dataset.series, sop: img.dataset.sop, frame: 0, thumb: img });
  const ki = keyAi && keyAi.keyImage;
  let current = ki ? { series: ki.seriesInstanceUid, sop: ki.sopInstanceUid, frame: ki.frame, thumb: thumbs.find(t => t.dataset.series === ki.seriesInstanceUid) }
    : thumbs[0] && toRef(thumbs[0]);
  const base = r => `/api/v1/studies/${encodeURIComponent(uid)}/series/${encodeURIComponent(r.series)}/instances/${encodeURIComponent(r.sop)}/rendered`;
  const showKey = () => {
    if (!current) return;
    thumbs.forEach(t => t.classList.toggle('sel', t === current.thumb));
    const w = document.getElementById('window').value;
    const heat = heatAi && document.getElementById('overlay').checked;
    const q = new URLSearchParams({ overlay: heat ? 'heatmap' : 'none', frame: String(current.frame) });
    if (heat) q.set('model', heatAi.model);
    if (w) q.set('window', w);
    const isKey = ki && current.sop === ki.sopInstanceUid && current.frame === ki.frame;
    caption.textContent = (isKey ? `Key image: highest ${keyAi.finding} score ${ki.score.toFixed(2)} of ${keyAi.imagesScored} images. ` : '')
      + (heat ? `Heat map: ${heatAi.model} ${heatAi.modelVersion}, where its ${heatAi.finding} evidence lies (coloured above the flag threshold, brightest where strongest).`
        : heatAi ? '' : 'No model that scored this study has a heat map.');
    key.dataset.loaded = 'false';
    loadImage(key, `${base(current)}?${q}`).catch(e => key.alt = e.message);
  };
  thumbs.forEach(t => { loadImage(t, base(toRef(t)) + '?overlay=none').catch(() => {}); t.onclick = () => { current = toRef(t); showKey(); }; });
  document.getElementById('window').onchange = showKey;
  document.getElementById('overlay').onchange = showKey;
  showKey();
  const act = (id, path) => { const b = document.getElementById(id); if (b) b.onclick = async () => { try { await json(`/api/v1/studies/${encodeURIComponent(uid)}/${path}`, { method: 'POST' }); renderStudy(uid); } catch (e) { alert(e.message); } }; };
  act('claim', 'claim'); act('release', 'release'); act('complete', 'complete');
  main.querySelectorAll('[data-fb]').forEach(b => b.onclick = async () => {
    const [model, finding, agree, present] = b.dataset.fb.split('|');
    try { await json(`/api/v1/studies/${encodeURIComponent(uid)}/feedback`, { method: 'POST', body: { model, finding, agree: agree === 'true', present: present === 'true' } }); renderStudy(uid); }
    catch (e) { alert(e.message); }
  });
  document.getElementById('override').onsubmit = async ev => {
    ev.preventDefault();
    try {
      await json(`/api/v1/studies/${encodeURIComponent(uid)}/priority`, { method: 'POST', body: {
        priorityClass: document.getElementById('ov-class').value, reason: document.getElementById('ov-reason').value, readNext: document.getElementById('ov-next').checked } });
      renderStudy(uid);
    } catch (e) { document.getElementById('ov-msg').textContent = e.message; }
  };
}

const table = obj => `<table>${Object.entries(obj || {}).map(([k, v]) => `<tr><td>${esc(k)}</td><td class="stat-num">${esc(v)}</td></tr>`).join('') || '<tr><td class="muted">none</td></tr>'}</table>`;
const secs = v => v == null ? '–' : `${v.toFixed(1)} s`;

async function renderOps() {
  const o = await json('/api/v1/operations');
  main.innerHTML = `<h1>Operations</h1><div class="grid" data-testid="ops">
    <section class="card"><h2>Worklist</h2>${table(o.worklistByState)}<h3>Open by class</h3>${table(o.worklistByClass)}</section>
    <section class="card"><h2>Pipeline</h2>${table(o.pipelineStudies)}<h3>HL7 outbox</h3>${table(o.outbox)}</section>
    <section class="card"><h2>Throughput</h2>${table({ 'triaged, last 5 min': o.triagedLast5Minutes, 'triaged, last hour': o.triagedLastHour })}
      <h3>Time to triage (last hour)</h3>${table({ p50: secs(o.timeToTriage.p50Seconds), p95: secs(o.timeToTriage.p95Seconds), max: secs(o.timeToTriage.maxSeconds) })}
      ${Object.entries(o.timeToTriageByModality).map(([m, l]) => `<div class="muted">${esc(m)}: p50 ${secs(l.p50Seconds)}, p95 ${secs(l.p95Seconds)} (${l.samples})</div>`).join('')}</section>
    <section class="card"><h2>Models</h2>${o.models.map(m => `<div>${m.ready ? '✔' : '✖'} <strong>${esc(m.id)}</strong> ${esc(m.version)} — ${esc(m.finding)} ${m.provider ? `on ${esc(m.provider)}` : '<span class="muted">(no session yet)</span>'} ${m.error ? `<div class="error">${esc(m.error)}</div>` : ''}</div>`).join('')}</section>
    <section class="card"><h2>Connections</h2>${table({ 'DICOM associations': o.dicomAssociations, 'MLLP connections': o.mllpConnections, 'live UI streams': o.changeFeedSubscribers })}</section>
  </div>`;
}

async function renderSafety() {
  const f = await json('/api/v1/feedback');
  const audit = await api('/api/v1/audit').then(r => r.status !== 404 ? r.status : 0).catch(() => 0);
  main.innerHTML = `<h1>Safety</h1>
    <section class="card" data-testid="safety"><h2>Radiologist feedback on AI findings</h2>
      <table><thead><tr><th>Model</th><th>Finding</th><th>Agree</th><th>Disagree</th><th>Present</th><th>Absent</th></tr></thead><tbody>
      ${f.summary.map(s => `<tr><td>${esc(s.model)}</td><td>${esc(s.finding)}</td><td>${s.agree}</td><td>${s.disagree}</td><td>${s.present}</td><td>${s.absent}</td></tr>`).join('') || '<tr><td colspan="6" class="muted">No feedback recorded yet.</td></tr>'}
      </tbody></table></section>
    <section class="card"><h2>Recent feedback</h2><ul>${f.recent.map(r => `<li>${new Date(r.createdAt).toLocaleString()} — ${esc(r.actor)} on <a href="#study/${encodeURIComponent(r.studyInstanceUid)}">${esc(r.studyInstanceUid)}</a>: ${esc(r.finding)} ${r.agree ? 'agree' : 'disagree'}, ${r.present ? 'present' : 'absent'} ${esc(r.comment || '')}</li>`).join('') || '<li class="muted">none</li>'}</ul></section>
    <section class="card" data-testid="discrepancies"><h2>Discrepancy review</h2>
      <p class="muted">AI and the reference (report, or the reader's feedback) disagree. A disposition decides the reference used by the metrics: model error keeps it, report error takes the AI's answer, indeterminate leaves the case out.</p>
      <div id="dq"></div></section>
    ${audit ? '<section class="card"><a href="/api/v1/audit">Audit log (API)</a></section>' : ''}
    <section class="card"><h2>Safety report, last 30 days</h2>
      <p class="muted">Per-model sensitivity, specificity and PPV with Wilson intervals, score drift against the previous 30 days, turnaround, discrepancies and the audit chain.</p>
      <iframe data-testid="safety-report" title="Safety report" style="width:100%;height:70vh;border:0;background:#fff"></iframe></section>`;
  await renderDiscrepancies();
  const report = await api('/api/v1/safety/report?days=30');
  if (report.ok) main.querySelector('[data-testid="safety-report"]').srcdoc = await report.text();
}

const kindText = k => k === 'aiNegativeReportPositive' ? 'AI negative, reference positive (possible miss)' : 'AI positive, reference negative';

async function renderDiscrepancies() {
  const box = document.getElementById('dq');
  const queue = await json('/api/v1/safety/discrepancies');
  const canReview = (state.me?.roles || []).some(r => r === 'safety' || r === 'admin');
  box.innerHTML = queue.length === 0 ? '<p class="muted" data-testid="dq-empty">No discrepancies waiting for review.</p>' : queue.map(d => `
    <article class="card" data-testid="discrepancy" data-id="${d.id}">
      <div class="grid">
        <div>${d.imageUrl ? `<img data-src="${esc(d.imageUrl)}" alt="Study image with the model's overlay" style="max-width:256px;width:100%;background:#000">` : '<span class="muted">no image stored</span>'}</div>
        <div>
          <div><strong>${esc(d.model)}</strong> / ${esc(d.finding)} — ${esc(kindText(d.kind))}</div>
          <div>Study <a href="#study/${encodeURIComponent(d.studyInstanceUid)}">${esc(d.accessionNumber)}</a>, score ${d.score.toFixed(2)} (threshold ${d.threshold.toFixed(2)}), reference from ${esc(d.referenceSource)}</div>
          <blockquote data-testid="excerpt">${esc(d.excerpt)}</blockquote>
          ${canReview ? `<label>Comment <input data-comment maxlength="2000" style="width:100%"></label>
          <div><button data-disposition="modelError">Model error</button> <button data-disposition="reportError">Report error</button> <button data-disposition="indeterminate">Indeterminate</button> <span class="error" data-msg></span></div>`
          : '<div class="muted">Review needs the safety role.</div>'}
        </div>
      </div>
    </article>`).join('');
  box.querySelectorAll('img[data-src]').forEach(img => loadImage(img, img.dataset.src).catch(e => img.alt = e.message));
  box.querySelectorAll('[data-disposition]').forEach(b => b.onclick = async () => {
    const card = b.closest('[data-testid="discrepancy"]');
    try {
      await json(`/api/v1/safety/discrepancies/${card.dataset.id}/disposition`, { method: 'POST', body: { disposition: b.dataset.disposition, comment: card.querySelector('[data-comment]').value || null } });
      await renderDiscrepancies();
    } catch (e) { card.querySelector('[data-msg]').textContent = e.message; }
  });
}

async function route() {
  clearInterval(state.tick);
  const [view, arg] = location.hash.split('/');
  try {
    if (view === '#study' && arg) await renderStudy(decodeURIComponent(arg));
    else if (view === '#ops') await renderOps();
    else if (view === '#safety') await renderSafety();
    else await renderWorklist();
  } catch (e) {
    if (e.message !== 'unauthorized') main.innerHTML = `<section class="card error" role="alert">${esc(e.message)}</section>`;
  }
  state.tick = setInterval(() => main.querySelectorAll('[data-due]').forEach(td => td.innerHTML = countdown(td.dataset.due)), 15000);
}

function enter() {
  document.getElementById('nav').hidden = false;
  document.getElementById('who').textContent = `${state.me.name} (${state.me.roles.join(', ')})`;
  document.getElementById('signout').onclick = () => signOut();
  window.addEventListener('hashchange', route);
  startFeed();
  route();
}

document.getElementById('signin').onsubmit = async ev => {
  ev.preventDefault();
  try { await signIn(document.getElementById('apikey').value); enter(); }
  catch (e) { document.getElementById('signin-error').textContent = e.message; }
};

if (state.key) signIn(state.key).then(enter).catch(() => sessionStorage.removeItem('triage.key'));
