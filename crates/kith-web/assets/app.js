// Kith — progressive enhancement. Pages work without this file; every feature
// below does nothing when its elements are absent. No dependencies.

const doc = document;
const root = doc.documentElement;
root.classList.add('js');

// ---------- helpers ----------

/** True when key presses belong to the focused control, not to us. */
function isTypingTarget(el) {
  if (!el || el === doc.body) return false;
  if (el.isContentEditable) return true;
  const tag = el.tagName;
  return tag === 'INPUT' || tag === 'SELECT' || tag === 'TEXTAREA';
}

function closestFrom(target, selector) {
  return target instanceof Element ? target.closest(selector) : null;
}

// A polite live region, so status changes (e.g. "Copied") are announced.
let liveRegion = null;
function announce(text) {
  if (!liveRegion) {
    liveRegion = doc.createElement('div');
    liveRegion.className = 'visually-hidden';
    liveRegion.setAttribute('role', 'status');
    liveRegion.setAttribute('aria-live', 'polite');
    doc.body.appendChild(liveRegion);
  }
  liveRegion.textContent = '';
  setTimeout(() => { liveRegion.textContent = text; }, 50);
}

// ---------- confirm before destructive actions ----------

doc.addEventListener('click', (e) => {
  const btn = closestFrom(e.target, 'button[data-confirm], input[type="submit"][data-confirm]');
  if (!btn || btn.disabled) return;
  const text = btn.getAttribute('data-confirm') || 'Are you sure?';
  if (!window.confirm(text)) {
    e.preventDefault();
    e.stopImmediatePropagation();
  }
}, true);

doc.addEventListener('submit', (e) => {
  const form = e.target;
  if (!(form instanceof HTMLFormElement) || !form.hasAttribute('data-confirm')) return;
  // The clicked button already asked its own question.
  if (e.submitter && e.submitter.hasAttribute('data-confirm')) return;
  const text = form.getAttribute('data-confirm') || 'Are you sure?';
  if (!window.confirm(text)) {
    e.preventDefault();
    e.stopImmediatePropagation();
  }
}, true);

// ---------- copy buttons ----------

function selectContents(el) {
  if (el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement) {
    el.focus();
    el.select();
    return;
  }
  const sel = window.getSelection();
  if (!sel) return;
  const range = doc.createRange();
  range.selectNodeContents(el);
  sel.removeAllRanges();
  sel.addRange(range);
}

function textOf(el) {
  if (el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement) return el.value;
  // Lists (recovery codes): one item per line.
  const items = el.matches('ul, ol') ? el.querySelectorAll(':scope > li') : [];
  if (items.length) return Array.from(items, (li) => li.textContent.trim()).join('\n');
  return el.textContent.trim();
}

function flashLabel(btn, label, ok) {
  if (!btn.dataset.label) btn.dataset.label = btn.textContent;
  clearTimeout(Number(btn.dataset.labelTimer) || 0);
  btn.textContent = label;
  btn.classList.toggle('is-done', ok);
  announce(label);
  const timer = setTimeout(() => {
    btn.textContent = btn.dataset.label;
    btn.classList.remove('is-done');
    delete btn.dataset.label;
    delete btn.dataset.labelTimer;
  }, 1800);
  btn.dataset.labelTimer = String(timer);
}

doc.addEventListener('click', async (e) => {
  const btn = closestFrom(e.target, 'button.copy-btn[data-copy-target]');
  if (!btn) return;
  e.preventDefault();
  let target = null;
  try { target = doc.querySelector(btn.dataset.copyTarget); } catch { /* bad selector */ }
  if (!target) return;

  const text = textOf(target);
  let copied = false;
  if (navigator.clipboard && window.isSecureContext) {
    try { await navigator.clipboard.writeText(text); copied = true; } catch { /* denied */ }
  }
  if (!copied) {
    selectContents(target);
    try { copied = doc.execCommand('copy'); } catch { copied = false; }
  }
  flashLabel(btn, copied ? 'Copied' : 'Selected — press Ctrl+C', copied);
});

// ---------- relative times ----------

const MIN = 60 * 1000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

function exactTime(d) {
  try {
    return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  } catch {
    return d.toLocaleString();
  }
}

function shortDate(d, now) {
  const opts = { day: 'numeric', month: 'short' };
  if (d.getFullYear() !== now.getFullYear()) opts.year = 'numeric';
  try { return d.toLocaleDateString(undefined, opts); } catch { return d.toLocaleDateString(); }
}

function relativeTime(ms, nowMs) {
  const diff = nowMs - ms;
  const abs = Math.abs(diff);
  if (abs < MIN) return 'just now';
  if (abs >= 7 * DAY) return null;
  let n;
  let unit;
  if (abs < HOUR) { n = Math.floor(abs / MIN); unit = 'min'; }
  else if (abs < DAY) { n = Math.floor(abs / HOUR); unit = 'h'; }
  else { n = Math.floor(abs / DAY); unit = 'd'; }
  return diff >= 0 ? `${n} ${unit} ago` : `in ${n} ${unit}`;
}

function renderTimes() {
  const els = doc.querySelectorAll('time[data-ms]');
  if (!els.length) return;
  const now = new Date();
  const nowMs = now.getTime();
  for (const el of els) {
    const ms = Number(el.getAttribute('data-ms'));
    if (!Number.isFinite(ms) || ms <= 0) continue;
    const d = new Date(ms);
    const text = relativeTime(ms, nowMs) || shortDate(d, now);
    if (el.textContent !== text) el.textContent = text;
    const title = exactTime(d);
    if (el.title !== title) el.title = title;
    if (!el.hasAttribute('datetime')) el.setAttribute('datetime', d.toISOString());
  }
}

renderTimes();
setInterval(renderTimes, MIN);
doc.addEventListener('visibilitychange', () => { if (!doc.hidden) renderTimes(); });

// ---------- flash messages ----------

function dismissFlash(flash) {
  if (!flash || flash.classList.contains('is-leaving')) return;
  flash.classList.add('is-leaving');
  let done = false;
  const remove = () => { if (!done) { done = true; flash.remove(); } };
  flash.addEventListener('transitionend', remove, { once: true });
  setTimeout(remove, 300);
}

function autoHide(flash) {
  let timer = 0;
  let hovered = false;
  let focused = false;
  const start = (delay) => {
    clearTimeout(timer);
    timer = setTimeout(() => { if (!hovered && !focused) dismissFlash(flash); }, delay);
  };
  flash.addEventListener('mouseenter', () => { hovered = true; clearTimeout(timer); });
  flash.addEventListener('mouseleave', () => { hovered = false; start(3000); });
  flash.addEventListener('focusin', () => { focused = true; clearTimeout(timer); });
  flash.addEventListener('focusout', () => { focused = false; start(3000); });
  start(6000);
}

for (const flash of doc.querySelectorAll('.flash:not(.flash-error)')) autoHide(flash);

doc.addEventListener('click', (e) => {
  const btn = closestFrom(e.target, 'button.flash-close');
  if (!btn) return;
  e.preventDefault();
  dismissFlash(btn.closest('.flash'));
});

// ---------- auto-submitting selects (workspace switcher) ----------

doc.addEventListener('change', (e) => {
  const select = e.target;
  const auto = (select instanceof HTMLSelectElement || (select instanceof HTMLInputElement && select.type === 'checkbox'))
    && select.hasAttribute('data-autosubmit');
  if (!auto) return;
  const form = select.form;
  if (!form) return;
  const submitter = form.querySelector('button:not([type]), button[type="submit"], input[type="submit"]');
  try {
    if (typeof form.requestSubmit === 'function') form.requestSubmit(submitter || undefined);
    else form.submit();
  } catch {
    form.submit();
  }
});

// ---------- dialogs ----------

function openDialog(dialog) {
  if (dialog.open) return;
  if (typeof dialog.showModal === 'function') dialog.showModal();
  else dialog.setAttribute('open', '');
}

function closeDialog(dialog) {
  if (typeof dialog.close === 'function') dialog.close();
  else dialog.removeAttribute('open');
}

// A click on the backdrop (outside the dialog box) closes it.
doc.addEventListener('click', (e) => {
  const dialog = e.target;
  if (!(dialog instanceof HTMLDialogElement) || !dialog.open) return;
  const r = dialog.getBoundingClientRect();
  const inside = e.clientX >= r.left && e.clientX <= r.right && e.clientY >= r.top && e.clientY <= r.bottom;
  if (!inside && (e.clientX || e.clientY)) closeDialog(dialog);
});

// ---------- keyboard list navigation ----------

function keyboardTable() {
  return doc.querySelector('table.table[data-keyboard]');
}

function tableRows(table) {
  const rows = [];
  for (const body of table.tBodies) {
    for (const row of body.rows) {
      if (row.getClientRects().length) rows.push(row);
    }
  }
  return rows;
}

function selectRow(rows, index) {
  rows.forEach((row, i) => row.classList.toggle('is-selected', i === index));
  const row = rows[index];
  if (row) row.scrollIntoView({ block: 'nearest' });
}

function moveSelection(step) {
  const table = keyboardTable();
  if (!table) return false;
  const rows = tableRows(table);
  if (!rows.length) return false;
  const current = rows.findIndex((r) => r.classList.contains('is-selected'));
  const next = current < 0 ? 0 : Math.min(rows.length - 1, Math.max(0, current + step));
  selectRow(rows, next);
  return true;
}

function openSelection() {
  const table = keyboardTable();
  if (!table) return false;
  const row = table.querySelector('tbody tr.is-selected');
  const link = row && row.querySelector('a[href]');
  if (!link) return false;
  link.click();
  return true;
}

// Clicking a row makes it the starting point for j/k.
doc.addEventListener('click', (e) => {
  const row = closestFrom(e.target, 'table.table[data-keyboard] tbody tr');
  if (!row) return;
  const table = row.closest('table');
  if (table !== keyboardTable()) return;
  const rows = tableRows(table);
  const i = rows.indexOf(row);
  if (i >= 0) rows.forEach((r, j) => r.classList.toggle('is-selected', j === i));
});

// ---------- keyboard shortcuts ----------

doc.addEventListener('keydown', (e) => {
  if (e.defaultPrevented || e.isComposing || e.ctrlKey || e.metaKey || e.altKey) return;

  const openModal = doc.querySelector('dialog[open]');

  if (e.key === 'Escape') {
    // Modal dialogs close natively; this covers non-modal ones too.
    const open = doc.querySelectorAll('dialog[open]');
    if (open.length) {
      open.forEach(closeDialog);
      e.preventDefault();
    }
    return;
  }

  const active = doc.activeElement;
  if (isTypingTarget(e.target) || isTypingTarget(active)) return;

  const shortcuts = doc.getElementById('shortcuts');
  if (e.key === '?') {
    if (shortcuts && shortcuts.tagName === 'DIALOG') {
      e.preventDefault();
      if (shortcuts.open) closeDialog(shortcuts);
      else openDialog(shortcuts);
    }
    return;
  }

  // Everything else belongs to the page, not to an open dialog.
  if (openModal) return;

  switch (e.key) {
    case '/': {
      const input = doc.querySelector('form.search input:not([type="hidden"])');
      if (input && !input.disabled) {
        e.preventDefault();
        input.focus();
        if (typeof input.select === 'function') input.select();
      }
      break;
    }
    case 'c': {
      const target = doc.querySelector('[data-key="c"]');
      if (target) {
        e.preventDefault();
        if (isTypingTarget(target)) target.focus();
        else target.click();
      }
      break;
    }
    case 'e': {
      const field = doc.querySelector('form[data-inline-edit] input:not([type="hidden"]), form[data-inline-edit] select');
      if (field) {
        e.preventDefault();
        field.focus();
        if (typeof field.select === 'function') field.select();
      }
      break;
    }
    case 'j':
      if (moveSelection(1)) e.preventDefault();
      break;
    case 'k':
      if (moveSelection(-1)) e.preventDefault();
      break;
    case 'x': {
      // Tick the row j/k selected, for the bulk bar.
      const box = doc.querySelector('table.table[data-keyboard] tbody tr.is-selected input[type="checkbox"][name="id"]');
      if (box) {
        e.preventDefault();
        box.click();
      }
      break;
    }
    case 'Enter':
      // Only when nothing else is focused: a focused link or button keeps its own Enter.
      if ((!active || active === doc.body || active === root) && openSelection()) e.preventDefault();
      break;
    default:
      break;
  }
});

// ---------- tabs: keep the current tab in view when the bar scrolls ----------

for (const bar of doc.querySelectorAll('.tabs')) {
  const current = bar.querySelector('[aria-current="page"]');
  if (!current || bar.scrollWidth <= bar.clientWidth) continue;
  const r = current.getBoundingClientRect();
  const b = bar.getBoundingClientRect();
  bar.scrollLeft += r.left - b.left - (b.width - r.width) / 2;
}

// ---------- the viewer's time zone, for times typed into forms ----------

try {
  const secure = window.location.protocol === 'https:' ? '; Secure' : '';
  doc.cookie = `kith_tzo=${new Date().getTimezoneOffset()}; Path=/; Max-Age=31536000; SameSite=Lax${secure}`;
} catch { /* cookies off: times are read as UTC */ }

// ---------- after a quick add: the timeline is in view on wide screens anyway ----------

if (window.location.hash === '#timeline' && window.matchMedia('(min-width: 761px)').matches) {
  window.addEventListener('load', () => window.scrollTo(0, 0), { once: true });
  history.replaceState(null, '', window.location.pathname + window.location.search);
}

// ---------- toasts: messages about changes a script made ----------

function toast(message, kind) {
  let region = doc.querySelector('.toasts');
  if (!region) {
    region = doc.createElement('div');
    region.className = 'toasts';
    doc.body.appendChild(region);
  }
  const el = doc.createElement('div');
  el.className = `flash flash-${kind || 'success'}`;
  el.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  const text = doc.createElement('span');
  text.className = 'flash-text';
  text.textContent = message;
  const close = doc.createElement('button');
  close.type = 'button';
  close.className = 'flash-close';
  close.setAttribute('aria-label', 'Dismiss');
  close.textContent = '×';
  el.append(text, ' ', close);
  region.appendChild(el);
  setTimeout(() => dismissFlash(el), kind === 'error' ? 10000 : 4000);
}

// ---------- links that open a dialog (the page behind them works without script) ----------

doc.addEventListener('click', (e) => {
  const link = closestFrom(e.target, 'a[data-dialog]');
  if (!link || e.ctrlKey || e.metaKey || e.shiftKey) return;
  const dialog = doc.getElementById(link.getAttribute('data-dialog'));
  if (!(dialog instanceof HTMLDialogElement)) return;
  e.preventDefault();
  openDialog(dialog);
  const danger = dialog.querySelector('.btn-danger');
  if (danger) danger.focus();
});

// ---------- record forms: team only for "A team"; inline edit shows Save once changed ----------

function syncPlacement(group) {
  const vis = group.querySelector('select[name="visibility"]');
  const team = group.querySelector('select[name="team_id"]');
  const field = team && team.closest('.field');
  if (!vis || !field) return;
  field.hidden = vis.value !== 'team' && !field.classList.contains('has-error');
}

for (const group of doc.querySelectorAll('[data-placement]')) {
  syncPlacement(group);
  group.addEventListener('change', () => syncPlacement(group));
}

for (const form of doc.querySelectorAll('form[data-inline-edit]')) {
  const mark = () => form.classList.add('is-dirty');
  form.addEventListener('input', mark);
  form.addEventListener('change', mark);
  form.addEventListener('reset', () => {
    form.classList.remove('is-dirty');
    setTimeout(() => form.querySelectorAll('[data-placement]').forEach(syncPlacement), 0);
  });
  if (form.querySelector('[aria-invalid="true"]') || form.closest('.card-body')?.querySelector('.flash-error')) mark();
}

// ---------- command palette (Ctrl/Cmd-K) ----------

const palette = doc.getElementById('palette');
const ACTIONS = [
  { kind: 'action', title: 'New contact', url: '/contacts/new', words: 'new contact create person add' },
  { kind: 'action', title: 'New company', url: '/companies/new', words: 'new company create organisation add' },
  { kind: 'action', title: 'New deal', url: '/deals/new', words: 'new deal create opportunity add' },
  { kind: 'page', title: 'Tasks', url: '/tasks', words: 'tasks todo inbox' },
  { kind: 'page', title: 'Overdue tasks', url: '/tasks?view=overdue', words: 'overdue tasks late' },
  { kind: 'page', title: 'Contacts', url: '/contacts', words: 'contacts people' },
  { kind: 'page', title: 'Companies', url: '/companies', words: 'companies organisations' },
  { kind: 'page', title: 'Deals board', url: '/deals/board', words: 'deals board kanban pipeline' },
  { kind: 'page', title: 'Deals table', url: '/deals', words: 'deals table list' },
  { kind: 'page', title: 'Settings', url: '/settings/profile', words: 'settings profile account' },
  { kind: 'page', title: 'Assistant: ask or draft', url: '/assistant', words: 'assistant ai ask question draft write' },
];
const KIND_LABEL = { contact: 'Contact', company: 'Company', deal: 'Deal', note: 'Note', action: 'Action', page: 'Go to' };

if (palette instanceof HTMLDialogElement) {
  const input = palette.querySelector('input');
  const list = palette.querySelector('[role="listbox"]');
  let items = [];
  let active = -1;
  let timer = 0;
  let seq = 0;

  const matching = (q) => {
    const t = q.trim().toLowerCase();
    if (!t) return ACTIONS.slice(0, 4);
    return ACTIONS.filter((a) => a.title.toLowerCase().includes(t) || a.words.split(' ').some((w) => w.startsWith(t)));
  };

  const setActive = (i) => {
    active = items.length ? (i + items.length) % items.length : -1;
    list.querySelectorAll('[role="option"]').forEach((li, j) => {
      li.setAttribute('aria-selected', String(j === active));
      if (j === active) li.scrollIntoView({ block: 'nearest' });
    });
    if (active >= 0) input.setAttribute('aria-activedescendant', `pal-${active}`);
    else input.removeAttribute('aria-activedescendant');
  };

  const render = (next, note) => {
    items = next;
    list.textContent = '';
    items.forEach((item, i) => {
      const li = doc.createElement('li');
      li.id = `pal-${i}`;
      li.setAttribute('role', 'option');
      li.dataset.url = item.url;
      const title = doc.createElement('span');
      title.className = 'pal-title';
      title.textContent = item.title;
      const kind = doc.createElement('span');
      kind.className = 'pal-kind';
      kind.textContent = KIND_LABEL[item.kind] || item.kind;
      li.append(title, kind);
      list.appendChild(li);
    });
    if (note) {
      const li = doc.createElement('li');
      li.className = 'pal-empty';
      li.setAttribute('aria-disabled', 'true');
      li.textContent = note;
      list.appendChild(li);
    }
    setActive(items.length ? 0 : -1);
  };

  const go = (url) => {
    closeDialog(palette);
    window.location.assign(url);
  };

  const lookup = async (q, mine) => {
    try {
      const resp = await fetch(`/search.json?q=${encodeURIComponent(q)}&limit=8`, {
        headers: { Accept: 'application/json' },
        credentials: 'same-origin',
      });
      if (mine !== seq) return;
      if (!resp.ok) {
        render(matching(q), resp.status === 401 ? 'Your session ended: reload and sign in.' : 'Search failed; press Enter to try the search page.');
        return;
      }
      const hits = await resp.json();
      if (mine !== seq) return;
      const records = hits.map((h) => ({ kind: h.kind, title: h.title, url: h.url }));
      const all = records.concat(matching(q));
      render(all, records.length ? '' : `No records match “${q.trim()}”. Enter searches everything.`);
    } catch {
      if (mine === seq) render(matching(q), 'Offline? Search could not be reached.');
    }
  };

  const openPalette = () => {
    if (palette.open) return;
    input.value = '';
    render(matching(''));
    openDialog(palette);
    input.focus();
  };

  input.addEventListener('input', () => {
    const q = input.value;
    seq += 1;
    const mine = seq;
    clearTimeout(timer);
    if (!q.trim()) { render(matching('')); return; }
    // Actions answer at once; records after a short pause in typing.
    render(matching(q));
    timer = setTimeout(() => lookup(q, mine), 150);
  });

  input.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown' || (e.key === 'n' && e.ctrlKey)) { e.preventDefault(); setActive(active + 1); }
    else if (e.key === 'ArrowUp' || (e.key === 'p' && e.ctrlKey)) { e.preventDefault(); setActive(active - 1); }
    else if (e.key === 'Enter') {
      if (active >= 0 && items[active]) { e.preventDefault(); go(items[active].url); }
      else if (!input.value.trim()) e.preventDefault();
    }
  });

  list.addEventListener('mousemove', (e) => {
    const li = closestFrom(e.target, '[role="option"]');
    if (!li) return;
    const i = Array.prototype.indexOf.call(list.querySelectorAll('[role="option"]'), li);
    if (i !== active) setActive(i);
  });
  list.addEventListener('click', (e) => {
    const li = closestFrom(e.target, '[role="option"]');
    if (li) go(li.dataset.url);
  });

  doc.addEventListener('keydown', (e) => {
    if ((e.key === 'k' || e.key === 'K') && (e.ctrlKey || e.metaKey) && !e.altKey && !e.shiftKey) {
      e.preventDefault();
      if (palette.open) closeDialog(palette);
      else {
        doc.querySelectorAll('dialog[open]').forEach(closeDialog);
        openPalette();
      }
    }
  });
}

// ---------- the board: drag and drop, [ and ], a stage select on touch ----------

function formatMoney(minor, currency) {
  const neg = minor < 0;
  const abs = Math.abs(minor);
  const major = String(Math.floor(abs / 100)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${currency} ${neg ? '-' : ''}${major}.${String(abs % 100).padStart(2, '0')}`;
}

const board = doc.querySelector('[data-board]');
if (board) {
  const columns = () => Array.from(board.querySelectorAll('.board-col'));
  const columnOf = (stage) => columns().find((c) => c.dataset.stage === stage);

  const adjust = (col, card, delta) => {
    const count = col.querySelector('[data-count]');
    if (count) count.textContent = String(Math.max(0, (Number(count.textContent) || 0) + delta));
    const totals = col.querySelector('[data-totals]');
    if (!totals) return;
    const currency = card.dataset.currency;
    const minor = Number(card.dataset.minor) || 0;
    let span = Array.from(totals.querySelectorAll('[data-currency]')).find((s) => s.dataset.currency === currency);
    if (!span) {
      if (delta < 0) return;
      span = doc.createElement('span');
      span.dataset.currency = currency;
      span.dataset.minor = '0';
      totals.appendChild(span);
    }
    const next = (Number(span.dataset.minor) || 0) + delta * minor;
    const left = count ? Number(count.textContent) : 1;
    if (delta < 0 && (next <= 0 || left === 0)) { span.remove(); return; }
    span.dataset.minor = String(next);
    span.textContent = formatMoney(next, currency);
  };

  const moveCard = async (card, target) => {
    const from = card.closest('.board-col');
    const form = card.querySelector('form.deal-card-move');
    if (!target || !from || target === from || !form || card.dataset.busy) return;
    const select = form.querySelector('select[name="stage_id"]');
    const title = (card.querySelector('.deal-card-title') || card).textContent.trim();
    const hadFocus = card.contains(doc.activeElement) ? doc.activeElement : null;
    const body = new URLSearchParams();
    body.set('_csrf', form.querySelector('input[name="_csrf"]').value);
    body.set('version', card.dataset.version);
    body.set('stage_id', target.dataset.stage);
    card.dataset.busy = '1';
    card.classList.add('is-moving');
    try {
      const resp = await fetch(form.action, {
        method: 'POST',
        headers: { Accept: 'application/json' },
        body,
        credentials: 'same-origin',
      });
      let data = null;
      try { data = await resp.json(); } catch { data = null; }
      if (!resp.ok || !data || !data.ok) {
        if (select) select.value = from.dataset.stage;
        toast((data && data.error) || 'The deal could not be moved. Reload the page and try again.', 'error');
        return;
      }
      const list = target.querySelector('[data-cards]');
      list.prepend(card);
      card.dataset.version = String(data.version);
      const version = form.querySelector('input[name="version"]');
      if (version) version.value = String(data.version);
      if (select) select.value = data.stage_id;
      adjust(from, card, -1);
      adjust(target, card, 1);
      card.classList.remove('is-moved');
      void card.offsetWidth;
      card.classList.add('is-moved');
      if (hadFocus) hadFocus.focus();
      card.scrollIntoView({ block: 'nearest', inline: 'nearest' });
      announce(`Moved ${title} to ${data.stage}.`);
    } catch {
      if (select) select.value = from.dataset.stage;
      toast('Kith could not be reached; the deal stays where it was.', 'error');
    } finally {
      delete card.dataset.busy;
      card.classList.remove('is-moving');
    }
  };

  board.addEventListener('keydown', (e) => {
    const card = closestFrom(e.target, '.deal-card');
    if (!card || e.target instanceof HTMLSelectElement || e.ctrlKey || e.metaKey) return;
    let step = 0;
    if (!e.altKey && e.key === '[') step = -1;
    else if (!e.altKey && e.key === ']') step = 1;
    else if (e.altKey && e.key === 'ArrowLeft') step = -1;
    else if (e.altKey && e.key === 'ArrowRight') step = 1;
    if (!step || !card.querySelector('form.deal-card-move')) return;
    e.preventDefault();
    const cols = columns();
    const i = cols.indexOf(card.closest('.board-col'));
    const target = cols[i + step];
    if (target) moveCard(card, target);
    else announce(step < 0 ? 'Already in the first stage.' : 'Already in the last stage.');
  });

  board.addEventListener('change', (e) => {
    const select = e.target;
    if (!(select instanceof HTMLSelectElement) || !select.hasAttribute('data-move')) return;
    const card = select.closest('.deal-card');
    const target = columnOf(select.value);
    if (card && target) moveCard(card, target);
  });

  let dragged = null;
  board.addEventListener('dragstart', (e) => {
    const card = closestFrom(e.target, '.deal-card[draggable="true"]');
    if (!card) return;
    dragged = card;
    card.classList.add('is-dragging');
    if (e.dataTransfer) {
      e.dataTransfer.effectAllowed = 'move';
      e.dataTransfer.setData('text/plain', card.dataset.deal || '');
    }
  });
  board.addEventListener('dragend', () => {
    if (dragged) dragged.classList.remove('is-dragging');
    dragged = null;
    board.querySelectorAll('.board-col.is-over').forEach((c) => c.classList.remove('is-over'));
  });
  board.addEventListener('dragover', (e) => {
    const col = closestFrom(e.target, '.board-col');
    if (!col || !dragged) return;
    e.preventDefault();
    if (e.dataTransfer) e.dataTransfer.dropEffect = 'move';
    board.querySelectorAll('.board-col.is-over').forEach((c) => { if (c !== col) c.classList.remove('is-over'); });
    if (col !== dragged.closest('.board-col')) col.classList.add('is-over');
  });
  board.addEventListener('dragleave', (e) => {
    const col = closestFrom(e.target, '.board-col');
    if (col && !col.contains(e.relatedTarget)) col.classList.remove('is-over');
  });
  board.addEventListener('drop', (e) => {
    const col = closestFrom(e.target, '.board-col');
    if (!col || !dragged) return;
    e.preventDefault();
    col.classList.remove('is-over');
    moveCard(dragged, col);
  });
}

// ---------- live status: [data-poll] blocks refresh from their JSON every second ----------
// The JSON's keys fill [data-field] (text) and [data-if] (shown when true);
// [data-class-from][data-class-prefix] keep a status class. Polling stops
// once the JSON says `finished`, or when the tab is hidden (resumes on return).

function applyStatus(root, data) {
  for (const el of root.querySelectorAll('[data-field]')) {
    const v = data[el.dataset.field];
    if (v === undefined || v === null) continue;
    const text = String(v);
    if (el.textContent !== text) el.textContent = text;
    if (el.hasAttribute('hidden') && el.dataset.field === 'error') el.hidden = !text;
  }
  for (const el of root.querySelectorAll('[data-if]')) {
    el.hidden = !data[el.dataset.if];
  }
  for (const el of root.querySelectorAll('progress[data-value-from]')) {
    const max = Number(data[el.dataset.maxFrom]);
    if (Number.isFinite(max) && max > 0) el.max = max;
    const value = Number(data[el.dataset.valueFrom]);
    if (Number.isFinite(value)) el.value = value;
  }
  for (const el of root.querySelectorAll('[data-zero-from]')) {
    el.classList.toggle('is-zero', !Number(data[el.dataset.zeroFrom]));
  }
  for (const el of root.querySelectorAll('[data-class-from][data-class-prefix]')) {
    const prefix = el.dataset.classPrefix;
    for (const c of Array.from(el.classList)) if (c.startsWith(prefix)) el.classList.remove(c);
    const v = data[el.dataset.classFrom];
    if (v) el.classList.add(prefix + v);
  }
}

function poll(root) {
  const url = root.dataset.poll;
  let failures = 0;
  let timer = 0;
  const tick = async () => {
    if (doc.hidden) { timer = setTimeout(tick, 1000); return; }
    try {
      const resp = await fetch(url, { headers: { Accept: 'application/json' }, credentials: 'same-origin' });
      if (!resp.ok) throw new Error(String(resp.status));
      const data = await resp.json();
      failures = 0;
      applyStatus(root, data);
      if (data.finished) {
        delete root.dataset.poll;
        announce(data.status_label || 'Finished');
        return;
      }
    } catch {
      failures += 1;
      if (failures >= 30) return; // gone for half a minute: a reload will tell
    }
    timer = setTimeout(tick, 1000);
  };
  timer = setTimeout(tick, 1000);
  return () => clearTimeout(timer);
}

for (const root of doc.querySelectorAll('[data-poll]')) poll(root);

// ---------- menus: <details class="menu"> closes on Esc, outside clicks and when another opens ----------

doc.addEventListener('click', (e) => {
  for (const menu of doc.querySelectorAll('details.menu[open]')) {
    if (!menu.contains(e.target)) menu.open = false;
  }
});
doc.addEventListener('keydown', (e) => {
  if (e.key !== 'Escape') return;
  const open = closestFrom(doc.activeElement, 'details.menu[open]') || doc.querySelector('details.menu[open]');
  if (!open) return;
  open.open = false;
  const summary = open.querySelector('summary');
  if (summary) summary.focus();
});
doc.addEventListener('toggle', (e) => {
  const menu = e.target;
  if (!(menu instanceof HTMLDetailsElement) || !menu.classList.contains('menu') || !menu.open) return;
  for (const other of doc.querySelectorAll('details.menu[open]')) if (other !== menu) other.open = false;
}, true);
// A download link closes its menu.
doc.addEventListener('click', (e) => {
  const item = closestFrom(e.target, 'details.menu .menu-item');
  if (item) setTimeout(() => { const m = item.closest('details.menu'); if (m) m.open = false; }, 0);
});

// ---------- long submits (uploads): say so on the button, and do not send twice ----------

doc.addEventListener('submit', (e) => {
  const form = e.target;
  if (!(form instanceof HTMLFormElement) || !form.hasAttribute('data-busy') || e.defaultPrevented) return;
  if (form.dataset.sent) { e.preventDefault(); return; }
  form.dataset.sent = '1';
  const btn = e.submitter instanceof HTMLButtonElement ? e.submitter : form.querySelector('button[type="submit"]');
  if (btn && !btn.hasAttribute('formaction')) {
    btn.textContent = form.getAttribute('data-busy') || 'Working…';
    btn.setAttribute('aria-disabled', 'true');
  }
  // A page restored from the back/forward cache gets its button back.
  window.addEventListener('pageshow', () => { delete form.dataset.sent; }, { once: true });
});

// ---------- webhook form: the event list matters only for "Only these" ----------

for (const grid of doc.querySelectorAll('[data-scope-some]')) {
  const form = grid.closest('form');
  const sync = () => {
    const some = form && form.querySelector('input[name="scope"][value="some"]');
    grid.classList.toggle('is-off', !(some && some.checked));
  };
  sync();
  if (form) form.addEventListener('change', (e) => {
    if (e.target instanceof HTMLInputElement && e.target.name === 'events' && e.target.checked) {
      const some = form.querySelector('input[name="scope"][value="some"]');
      if (some) some.checked = true;
    }
    sync();
  });
}

// ---------- record lists: shift-click a heading to sort by one more key ----------

doc.addEventListener('click', (e) => {
  const link = closestFrom(e.target, 'table[data-sort] a.sort-link[data-sort-key]');
  if (!link || !e.shiftKey || e.ctrlKey || e.metaKey || e.altKey) return;
  const table = link.closest('table');
  const key = link.dataset.sortKey;
  const keys = (table.dataset.sort || '').split(',').filter(Boolean);
  const at = keys.findIndex((k) => k.replace(/^-/, '') === key);
  if (at >= 0) keys[at] = keys[at].startsWith('-') ? key : `-${key}`;
  else if (keys.length < 3) keys.push(key);
  else keys[2] = key;
  e.preventDefault();
  const base = table.dataset.sortBase || window.location.pathname;
  window.location.assign(`${base}${base.includes('?') ? '&' : '?'}sort=${encodeURIComponent(keys.join(','))}`);
});

// ---------- record lists: ticking rows for the bulk bar (shift-click ticks a range) ----------

const bulkForm = doc.querySelector('form[data-bulk]');
if (bulkForm) {
  const boxes = () => Array.from(doc.querySelectorAll('input[type="checkbox"][name="id"]')).filter((b) => b.form === bulkForm);
  const pageBox = doc.querySelector('input[data-select-page]');
  const allBox = bulkForm.querySelector('input[data-bulk-all]');
  const count = bulkForm.querySelector('[data-bulk-count]');
  const { one, many } = bulkForm.dataset;
  const initial = count ? count.textContent : '';
  let last = null;

  const sync = () => {
    const list = boxes();
    const ticked = list.filter((b) => b.checked).length;
    for (const b of list) {
      const row = b.closest('tr');
      if (row) row.classList.toggle('is-ticked', b.checked);
    }
    if (pageBox) {
      pageBox.checked = ticked > 0 && ticked === list.length;
      pageBox.indeterminate = ticked > 0 && ticked < list.length;
    }
    const all = Boolean(allBox && allBox.checked);
    bulkForm.classList.toggle('has-selection', ticked > 0 || all);
    if (!count) return;
    if (all) count.textContent = `Every ${one} that matches is selected`;
    else if (ticked) count.textContent = `${ticked} ${ticked === 1 ? one : many} selected`;
    else count.textContent = initial;
  };

  doc.addEventListener('click', (e) => {
    const box = e.target;
    if (!(box instanceof HTMLInputElement) || box.name !== 'id' || box.form !== bulkForm) return;
    const list = boxes();
    if (e.shiftKey && last && last !== box) {
      const a = list.indexOf(last);
      const b = list.indexOf(box);
      if (a >= 0 && b >= 0) for (let i = Math.min(a, b); i <= Math.max(a, b); i += 1) list[i].checked = box.checked;
    }
    last = box;
    sync();
  });
  doc.addEventListener('change', (e) => {
    if (e.target instanceof HTMLInputElement && e.target.form === bulkForm) sync();
  });
  if (pageBox) {
    pageBox.addEventListener('change', () => {
      for (const b of boxes()) b.checked = pageBox.checked;
      if (!pageBox.checked && allBox) allBox.checked = false;
      sync();
    });
  }
  bulkForm.addEventListener('submit', (e) => {
    if (!boxes().some((b) => b.checked) && !(allBox && allBox.checked)) {
      e.preventDefault();
      toast(`Tick the ${many} to act on first.`, 'error');
    }
  });
  // A page restored from the back/forward cache keeps its ticks: show them.
  window.addEventListener('pageshow', sync);
  sync();
}
