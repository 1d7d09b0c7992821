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
  if (!(select instanceof HTMLSelectElement) || !select.hasAttribute('data-autosubmit')) return;
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
    case 'j':
      if (moveSelection(1)) e.preventDefault();
      break;
    case 'k':
      if (moveSelection(-1)) e.preventDefault();
      break;
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
