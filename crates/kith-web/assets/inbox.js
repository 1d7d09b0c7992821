// Kith — the live inbox. Loaded by the inbox page only; the page works
// without it (every action is a form that posts and redirects).
//
// It listens to /events (server-sent events carrying ids only) and fetches
// small HTML fragments the server renders and escapes: a list row, the
// messages after the last one shown, one message, the thread header. It also
// sends the composer without a reload, pages the list in place, and adds the
// inbox's keys: j/k move, Enter opens, r reply, n note, e resolve.

const doc = document;
const inbox = doc.querySelector('[data-inbox]');

if (inbox) {
  const qs = inbox.getAttribute('data-qs') || '';
  const threadId = inbox.getAttribute('data-thread') || '';
  const list = doc.getElementById('conv-list');
  const messages = doc.getElementById('messages');
  const scroller = doc.querySelector('[data-thread-scroll]');
  const composer = doc.querySelector('form[data-composer]');
  const csrfInput = doc.querySelector('input[name="_csrf"]');
  const csrf = csrfInput ? csrfInput.value : '';

  // ---------- small helpers ----------

  function fragment(html) {
    const tpl = doc.createElement('template');
    tpl.innerHTML = html;
    return tpl.content;
  }

  async function getFragment(url) {
    const resp = await fetch(url, { headers: { Accept: 'text/html' }, credentials: 'same-origin' });
    if (resp.status === 204) return null;
    if (!resp.ok) throw new Error(`${resp.status}`);
    return fragment(await resp.text());
  }

  // POST a form body and read the JSON answer ({} when it is not JSON).
  async function postForJson(url, body) {
    const resp = await fetch(url, {
      method: 'POST',
      body,
      headers: { Accept: 'application/json' },
      credentials: 'same-origin',
    });
    let data = {};
    try { data = await resp.json(); } catch { data = {}; }
    return { resp, data };
  }

  // DELETE with the session's token in a header (a form cannot send a
  // DELETE, so the server wants the token there); the JSON answer as above.
  async function deleteForJson(url) {
    const resp = await fetch(url, {
      method: 'DELETE',
      headers: { Accept: 'application/json', 'X-CSRF-Token': csrf },
      credentials: 'same-origin',
    });
    let data = {};
    try { data = await resp.json(); } catch { data = {}; }
    return { resp, data };
  }

  async function post(url, fields) {
    const body = new URLSearchParams(fields);
    if (!body.has('_csrf')) body.set('_csrf', csrf);
    const { resp, data } = await postForJson(url, body);
    if (!resp.ok || data.ok === false) {
      throw new Error(data.error || 'That did not work. Reload the page and try again.');
    }
    return data;
  }

  // Relative times for what this script inserts (as app.js shows the page's own).
  function relative(ms, now) {
    const diff = now - ms;
    const abs = Math.abs(diff);
    if (abs < 60000) return 'just now';
    if (abs >= 7 * 86400000) return null;
    let n;
    let unit;
    if (abs < 3600000) { n = Math.floor(abs / 60000); unit = 'min'; }
    else if (abs < 86400000) { n = Math.floor(abs / 3600000); unit = 'h'; }
    else { n = Math.floor(abs / 86400000); unit = 'd'; }
    return diff >= 0 ? `${n} ${unit} ago` : `in ${n} ${unit}`;
  }

  function renderTimes(root) {
    const now = Date.now();
    for (const el of root.querySelectorAll('time[data-ms]')) {
      const ms = Number(el.getAttribute('data-ms'));
      if (!Number.isFinite(ms) || ms <= 0) continue;
      const d = new Date(ms);
      el.textContent = relative(ms, now) || d.toLocaleDateString(undefined, { day: 'numeric', month: 'short' });
      try { el.title = d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' }); } catch { el.title = d.toLocaleString(); }
    }
  }

  function nearBottom() {
    if (!scroller) return true;
    return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 120;
  }

  function toBottom() {
    if (scroller) scroller.scrollTop = scroller.scrollHeight;
  }

  function say(text) {
    let region = doc.getElementById('inbox-live');
    if (!region) {
      region = doc.createElement('div');
      region.id = 'inbox-live';
      region.className = 'visually-hidden';
      region.setAttribute('role', 'status');
      region.setAttribute('aria-live', 'polite');
      doc.body.appendChild(region);
    }
    region.textContent = text;
  }

  // ---------- the list ----------

  function syncEmpty() {
    const empty = doc.querySelector('[data-list-empty]');
    if (empty && list) empty.hidden = list.querySelector('.conv-row') !== null;
  }

  function markCurrent(row) {
    if (row && row.getAttribute('data-id') === threadId) {
      row.classList.add('is-current');
      const link = row.querySelector('a');
      if (link) link.setAttribute('aria-current', 'true');
    }
  }

  // Put a row where its time says (the list is newest first).
  function place(row) {
    const at = Number(row.getAttribute('data-at')) || 0;
    for (const other of list.querySelectorAll('.conv-row')) {
      if (other === row) continue;
      if ((Number(other.getAttribute('data-at')) || 0) <= at) {
        list.insertBefore(row, other);
        return;
      }
    }
    // Older than everything shown: only keep it when no more pages wait.
    const more = list.querySelector('[data-more-item]');
    if (more) row.remove();
    else list.appendChild(row);
  }

  async function refreshRow(id) {
    if (!list || !id) return;
    let frag;
    try {
      frag = await getFragment(`/inbox/c/${encodeURIComponent(id)}/row${qs}`);
    } catch {
      return;
    }
    const old = doc.getElementById(`cv-${id}`);
    const selected = old && old.classList.contains('is-selected');
    if (!frag) {
      if (old) old.remove();
      syncEmpty();
      return;
    }
    const row = frag.querySelector('.conv-row');
    if (!row) return;
    markCurrent(row);
    if (selected) row.classList.add('is-selected');
    renderTimes(row);
    if (old) old.replaceWith(row);
    place(row);
    syncEmpty();
  }

  async function reloadList() {
    if (!list) return;
    try {
      const frag = await getFragment(`/inbox/rows${qs}`);
      if (!frag) return;
      for (const row of frag.querySelectorAll('.conv-row')) markCurrent(row);
      list.replaceChildren(frag);
      renderTimes(list);
      syncEmpty();
    } catch { /* the next event tries again */ }
  }

  // "Load more" in place.
  doc.addEventListener('click', async (e) => {
    const link = e.target instanceof Element ? e.target.closest('a[data-more]') : null;
    if (!link || !list) return;
    e.preventDefault();
    const url = new URL(link.href, window.location.href);
    const item = link.closest('[data-more-item]');
    link.setAttribute('aria-disabled', 'true');
    try {
      const frag = await getFragment(`/inbox/rows${url.search}`);
      if (!frag) return;
      for (const row of frag.querySelectorAll('.conv-row')) {
        markCurrent(row);
        const dup = doc.getElementById(row.id);
        if (dup) dup.remove();
      }
      renderTimes(frag);
      if (item) item.replaceWith(frag);
      syncEmpty();
    } catch {
      window.location.href = link.href;
    }
  });

  // ---------- the thread ----------

  function lastCursor() {
    const items = messages ? messages.querySelectorAll('.msg[data-cursor]') : [];
    return items.length ? items[items.length - 1].getAttribute('data-cursor') : '';
  }

  async function appendNew() {
    if (!messages || !messages.hasAttribute('data-live')) return;
    const stick = nearBottom();
    let frag;
    try {
      frag = await getFragment(`/inbox/c/${threadId}/messages?after=${encodeURIComponent(lastCursor())}`);
    } catch {
      return;
    }
    if (!frag) return;
    let added = 0;
    for (const item of frag.querySelectorAll('.msg')) {
      const old = doc.getElementById(item.id);
      renderTimes(item);
      if (old) old.replaceWith(item);
      else { messages.appendChild(item); added += 1; }
    }
    if (added) {
      const empty = doc.querySelector('[data-thread-empty]');
      if (empty) empty.remove();
      if (stick) toBottom();
      say(added === 1 ? 'New message' : `${added} new messages`);
    }
  }

  async function refreshMessage(messageId) {
    const old = doc.getElementById(`m-${messageId}`);
    if (!old) return appendNew();
    const at = old.getAttribute('data-cursor') || '';
    try {
      const frag = await getFragment(`/inbox/c/${threadId}/messages/${encodeURIComponent(messageId)}?at=${encodeURIComponent(at)}`);
      const item = frag && frag.querySelector('.msg');
      if (!item) return;
      renderTimes(item);
      old.replaceWith(item);
      const state = item.querySelector('.msg-state');
      if (state) say(`Message ${state.textContent.trim().toLowerCase()}`);
    } catch { /* stays as it was */ }
  }

  async function refreshHead() {
    const head = doc.getElementById('thread-head');
    if (!head) return;
    // Never pull a form away from someone using it.
    if (head.contains(doc.activeElement) || head.querySelector('details[open]')) return;
    try {
      const frag = await getFragment(head.getAttribute('data-head-url'));
      if (!frag) return;
      renderTimes(frag);
      head.replaceChildren(frag);
    } catch { /* stays as it was */ }
  }

  async function markRead() {
    if (!threadId || doc.hidden) return;
    try { await post(`/inbox/c/${threadId}/read`, {}); } catch { /* unread stays */ }
  }

  if (scroller) toBottom();

  // ---------- live: server-sent events ----------

  function onEvent(kind, data) {
    const cid = data.conversation_id || '';
    if (cid && cid === threadId) {
      if (kind === 'message.created') {
        appendNew().then(markRead).then(() => refreshRow(cid));
        return;
      }
      if (kind === 'message.updated' && data.message_id) refreshMessage(data.message_id);
      if (kind === 'conversation.updated') refreshHead();
    }
    refreshRow(cid);
  }

  let source = null;
  let broken = false;
  const liveDot = doc.querySelector('[data-live-state]');

  function connect() {
    if (!('EventSource' in window)) return;
    source = new EventSource('/events');
    for (const kind of ['message.created', 'message.updated', 'conversation.updated']) {
      source.addEventListener(kind, (e) => {
        let data = {};
        try { data = JSON.parse(e.data); } catch { return; }
        onEvent(kind, data);
      });
    }
    source.addEventListener('resync', () => resync());
    source.addEventListener('open', () => {
      if (liveDot) liveDot.hidden = false;
      inbox.setAttribute('data-live-ready', '');
      // After a dropped connection, catch up on what was missed.
      if (broken) { broken = false; resync(); }
    });
    source.addEventListener('error', () => {
      if (liveDot) liveDot.hidden = true;
      broken = true;
    });
  }

  function resync() {
    reloadList();
    if (threadId) { appendNew(); refreshHead(); }
  }

  connect();
  window.addEventListener('pagehide', () => { if (source) source.close(); });

  // ---------- the composer ----------

  function composerMode() {
    const checked = composer && composer.querySelector('input[name="mode"]:checked');
    return checked ? checked.value : 'reply';
  }

  function setMode(mode) {
    if (!composer) return;
    const radio = composer.querySelector(`input[name="mode"][value="${mode}"]`);
    if (radio) radio.checked = true;
    syncMode();
  }

  function syncMode() {
    if (!composer) return;
    const area = composer.querySelector('textarea');
    const mode = composerMode();
    const note = mode === 'note';
    composer.classList.toggle('is-note', note);
    if (area) area.placeholder = note ? 'Write a private note for your team… (Ctrl+Enter adds it)' : 'Write a reply… (Ctrl+Enter sends)';
    const button = composer.querySelector('button[type="submit"]');
    if (button) button.textContent = { note: 'Add note', template: 'Send template' }[mode] || 'Send';
  }

  function composerError(text) {
    let p = composer.querySelector('.composer-error');
    if (!text) { if (p) p.remove(); return; }
    if (!p) {
      p = doc.createElement('p');
      p.className = 'error composer-error';
      p.setAttribute('role', 'alert');
      composer.querySelector('.composer-foot').before(p);
    }
    p.textContent = text;
    // On a phone the composer's foot is often below the fold: bring the
    // error into view (no jump when it is already visible).
    p.scrollIntoView({ block: 'nearest' });
  }

  // ---------- files in the composer ----------
  // "Attach files" opens the file chooser; each chosen file is uploaded at
  // once (multipart, `_csrf` first, then `file`) and its id kept in the
  // form's `attachment_ids`, which the reply then sends. Remove deletes the
  // upload on the server (row and file) and takes it off the reply; if that
  // fails the file stays listed and the error says why. A file removed while
  // it still uploads is deleted once its upload answers. The server checks
  // the per-channel count and the 25 MB cap again.

  const files = composer && composer.querySelector('[data-files]');
  const fileInput = files && files.querySelector('[data-file-input]');
  const fileList = files && files.querySelector('[data-file-list]');
  const idsInput = files && files.querySelector('[data-attachment-ids]');
  const attachButton = files && files.querySelector('[data-attach]');
  const maxFiles = files ? Number(files.getAttribute('data-max-files')) || 0 : 0;
  const maxBytes = files ? Number(files.getAttribute('data-max-bytes')) || 0 : 0;
  let uploading = 0;

  function fileSize(bytes) {
    if (bytes < 1024) return `${bytes} B`;
    if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
    return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
  }

  function attachedFiles() {
    return fileList ? Array.from(fileList.children) : [];
  }

  function syncIds() {
    if (!idsInput) return;
    idsInput.value = attachedFiles()
      .filter((li) => !li.classList.contains('is-removing'))
      .map((li) => li.getAttribute('data-id'))
      .filter(Boolean)
      .join(',');
  }

  function clearFiles() {
    if (!fileList) return;
    fileList.replaceChildren();
    syncIds();
  }

  function deleteUrl(id) {
    return `${files.getAttribute('data-upload-url')}/${encodeURIComponent(id)}`;
  }

  // Delete an upload: { gone, why }. Gone when deleted, already gone (404)
  // or sent already (409: it cannot go twice, so it leaves the list too);
  // why says what went wrong, if anything did.
  async function deleteUpload(id) {
    try {
      const { resp, data } = await deleteForJson(deleteUrl(id));
      if ((resp.ok && data.ok) || resp.status === 404) return { gone: true, why: '' };
      const why = data.error || `It could not be removed (error ${resp.status}).`;
      return { gone: resp.status === 409, why };
    } catch {
      return { gone: false, why: 'It could not be removed: the server did not answer. Try again.' };
    }
  }

  async function removeFile(li, button, name, meta) {
    composerError('');
    const id = li.getAttribute('data-id');
    if (id) {
      const before = meta.textContent;
      button.disabled = true;
      li.classList.add('is-removing');
      meta.textContent = 'removing…';
      syncIds(); // a reply sent meanwhile goes without it
      const { gone, why } = await deleteUpload(id);
      if (why) composerError(`${name}: ${why}`);
      if (!gone) {
        button.disabled = false;
        li.classList.remove('is-removing');
        meta.textContent = before;
        syncIds();
        button.focus();
        return;
      }
    }
    // Without an id it is still uploading: uploadFile deletes it once it has one.
    const next = li.nextElementSibling || li.previousElementSibling;
    li.remove();
    syncIds();
    (next ? next.querySelector('button') : attachButton).focus();
  }

  async function uploadFile(file, li, meta) {
    const body = new FormData();
    body.append('_csrf', csrf);
    body.append('file', file, file.name);
    uploading += 1;
    try {
      const { resp, data } = await postForJson(files.getAttribute('data-upload-url'), body);
      if (!resp.ok || !data.ok) throw new Error(data.error || 'It could not be uploaded.');
      if (!li.isConnected) {
        // Removed while it uploaded: delete what arrived.
        const { why } = await deleteUpload(data.id);
        if (why) composerError(`${file.name}: ${why}`);
        return;
      }
      li.setAttribute('data-id', data.id);
      li.classList.remove('is-uploading');
      meta.textContent = fileSize(file.size);
      syncIds();
    } catch (err) {
      li.remove();
      syncIds();
      composerError(`${file.name}: ${err.message}`);
    } finally {
      uploading -= 1;
    }
  }

  function addFiles(chosen) {
    composerError('');
    const problems = [];
    for (const file of chosen) {
      if (attachedFiles().length >= maxFiles) {
        problems.push(maxFiles === 1
          ? 'This channel takes one file per message.'
          : `This channel takes at most ${maxFiles} files per message.`);
        break;
      }
      if (file.size > maxBytes) {
        problems.push(`${file.name} is larger than 25 MB.`);
        continue;
      }
      if (file.size === 0) {
        problems.push(`${file.name} is empty.`);
        continue;
      }
      const li = doc.createElement('li');
      li.className = 'composer-file is-uploading';
      const name = doc.createElement('span');
      name.className = 'composer-file-name';
      name.textContent = file.name;
      name.title = file.name;
      const meta = doc.createElement('span');
      meta.className = 'composer-file-meta';
      meta.textContent = `${fileSize(file.size)} · uploading…`;
      const remove = doc.createElement('button');
      remove.type = 'button';
      remove.className = 'btn btn-ghost btn-sm';
      remove.textContent = 'Remove';
      remove.setAttribute('aria-label', `Remove ${file.name}`);
      remove.addEventListener('click', () => removeFile(li, remove, file.name, meta));
      li.append(name, meta, remove);
      fileList.append(li);
      uploadFile(file, li, meta);
    }
    if (problems.length) composerError(problems.join(' '));
  }

  if (files && fileInput && fileList && idsInput && attachButton) {
    files.hidden = false;
    attachButton.addEventListener('click', () => fileInput.click());
    fileInput.addEventListener('change', () => {
      addFiles(Array.from(fileInput.files || []));
      fileInput.value = '';
    });
  }

  if (composer) {
    syncMode();
    composer.addEventListener('change', (e) => {
      if (e.target instanceof HTMLInputElement && e.target.name === 'mode') syncMode();
    });
    composer.addEventListener('submit', async (e) => {
      e.preventDefault();
      const area = composer.querySelector('textarea');
      const button = composer.querySelector('button[type="submit"]');
      const canned = composer.querySelector('select[name="canned"]');
      const mode = composerMode();
      const chosen = mode === 'reply' && canned && canned.value;
      const withFiles = mode === 'reply' && attachedFiles().length > 0;
      if (mode === 'reply' && uploading > 0) {
        composerError('Wait until the files have uploaded.');
        return;
      }
      if (mode !== 'template' && !chosen && !withFiles && !area.value.trim()) {
        composerError('Write something first.');
        area.focus();
        return;
      }
      if (button.disabled) return;
      button.disabled = true;
      composerError('');
      try {
        const fields = new FormData(composer);
        if (mode !== 'reply') fields.delete('attachment_ids');
        await post(composer.action, fields);
        area.value = '';
        if (canned) canned.value = '';
        if (mode === 'reply') clearFiles();
        await appendNew();
        toBottom();
        refreshRow(threadId);
      } catch (err) {
        composerError(err.message);
      } finally {
        button.disabled = false;
        area.focus();
      }
    });
    composer.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        composer.requestSubmit();
      } else if (e.key === 'Escape') {
        e.preventDefault();
        e.target.blur();
      }
    });
  }

  // ---------- keys ----------

  function rows() {
    return list ? Array.from(list.querySelectorAll('.conv-row')) : [];
  }

  function move(step) {
    const all = rows();
    if (!all.length) return;
    let i = all.findIndex((r) => r.classList.contains('is-selected'));
    if (i < 0) i = all.findIndex((r) => r.classList.contains('is-current'));
    const next = i < 0 ? 0 : Math.min(all.length - 1, Math.max(0, i + step));
    all.forEach((r, j) => r.classList.toggle('is-selected', j === next));
    const link = all[next].querySelector('a');
    if (link) link.focus({ preventScroll: true });
    all[next].scrollIntoView({ block: 'nearest' });
  }

  function typing(el) {
    if (!el || el === doc.body) return false;
    return el.isContentEditable || ['INPUT', 'SELECT', 'TEXTAREA'].includes(el.tagName);
  }

  doc.addEventListener('keydown', (e) => {
    if (e.defaultPrevented || e.isComposing || e.ctrlKey || e.metaKey || e.altKey) return;
    if (typing(e.target) || typing(doc.activeElement) || doc.querySelector('dialog[open]')) return;
    switch (e.key) {
      case 'j': e.preventDefault(); move(1); break;
      case 'k': e.preventDefault(); move(-1); break;
      case 'Enter': {
        const sel = list && list.querySelector('.conv-row.is-selected a');
        if (sel && doc.activeElement !== sel) { e.preventDefault(); sel.click(); }
        break;
      }
      case 'r':
      case 'n':
        if (composer) {
          e.preventDefault();
          setMode(e.key === 'n' ? 'note' : 'reply');
          composer.querySelector('textarea').focus();
        }
        break;
      case 'e': {
        const resolve = doc.querySelector('button[data-resolve]');
        if (resolve) { e.preventDefault(); resolve.click(); }
        break;
      }
      default: break;
    }
  });

  // ---------- the assistant's suggested reply ----------
  // "Suggest a reply" streams a grounded answer (server-sent events over a
  // POST) into the suggestion box; "Edit in the composer" copies it there.

  const aiPanel = doc.querySelector('[data-ai-panel]');
  if (aiPanel) {
    const box = aiPanel.querySelector('[data-ai-suggestion]');
    const textEl = aiPanel.querySelector('[data-ai-text]');
    const citesEl = aiPanel.querySelector('[data-ai-cites]');
    const bodyInput = aiPanel.querySelector('[data-ai-body]');
    const sendForm = aiPanel.querySelector('[data-ai-send]');
    const useBtn = aiPanel.querySelector('[data-ai-use]');
    const actions = aiPanel.querySelector('[data-ai-actions]');
    const suggestBtn = aiPanel.querySelector('[data-ai-suggest]');
    const statusEl = aiPanel.querySelector('[data-ai-status]');
    if (useBtn && composer) {
      useBtn.hidden = false;
      useBtn.addEventListener('click', () => {
        setMode('reply');
        const area = composer.querySelector('textarea');
        area.value = textEl.textContent;
        area.focus();
      });
    }
    const show = (text, cites) => {
      box.hidden = false;
      textEl.textContent = text;
      if (bodyInput) bodyInput.value = text;
      if (citesEl) citesEl.textContent = cites.length ? `from ${cites.join(' · ')}` : '';
    };
    const reasons = {
      no_message: 'The customer has not written yet.',
      no_passages: 'Nothing in the knowledge base matches the last message.',
      low_confidence: 'No FAQ matches the last message closely enough.',
      model_declined: 'The model could not answer from the knowledge base.',
    };
    async function suggest() {
      suggestBtn.disabled = true;
      statusEl.textContent = 'Writing a suggestion…';
      if (sendForm) sendForm.hidden = true;
      let text = '';
      let cites = [];
      try {
        const resp = await fetch(aiPanel.getAttribute('data-suggest-url'), {
          method: 'POST',
          body: new URLSearchParams({ _csrf: csrf }),
          headers: { Accept: 'text/event-stream' },
          credentials: 'same-origin',
        });
        if (!resp.ok || !resp.body) {
          let message = 'The suggestion could not be made.';
          try { message = (await resp.json()).error.message; } catch { /* keep the plain words */ }
          throw new Error(message);
        }
        const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffered = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffered += value;
          let end;
          while ((end = buffered.indexOf('\n\n')) >= 0) {
            const block = buffered.slice(0, end);
            buffered = buffered.slice(end + 2);
            let kind = 'message';
            let data = '';
            for (const line of block.split('\n')) {
              if (line.startsWith('event:')) kind = line.slice(6).trim();
              else if (line.startsWith('data:')) data += line.slice(5).trim();
            }
            if (!data) continue;
            const ev = JSON.parse(data);
            if (kind === 'passages') cites = ev.map((p) => p.title);
            else if (kind === 'delta') { text += ev.text; show(text.replace(/\s*\[\d+(,\s*\d+)*\]/g, ''), cites); }
            else if (kind === 'error') throw new Error(ev.message);
            else if (kind === 'done') {
              if (ev.text) {
                show(ev.text, ev.citations.map((c) => c.title));
                statusEl.textContent = ev.mode === 'faq' ? 'From an FAQ (no AI endpoint).' : '';
                if (sendForm) sendForm.hidden = false;
              } else {
                box.hidden = true;
                statusEl.textContent = reasons[ev.reason] || 'No suggestion.';
              }
            }
          }
        }
      } catch (err) {
        box.hidden = true;
        statusEl.textContent = err.message;
      } finally {
        suggestBtn.disabled = false;
      }
    }
    if (actions && suggestBtn) {
      actions.hidden = false;
      suggestBtn.addEventListener('click', suggest);
    }
  }
}
