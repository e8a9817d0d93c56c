import { createClient, createDraftStore, generateKey, ProblemError, watchConnection } from '../../client/index.js';
import { createAuth, LoginRequired } from './auth';
import { renderBanner } from './banner';
import { emptyFields, fillForm, hasContent, markInvalid, readForm, toCaseBody, type CaseDraft } from './case-fields';

/*
 * The demo app (docs/demo-app.md): a loan-case editor that survives the loss and restart of
 * the backend. Every change is kept in local storage; Save and Print are disabled while the
 * loan system is lost; a lost session is renewed in the background and the save repeated with
 * the same Idempotency-Key, so the case is stored once.
 */

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);
const pollMs = Math.max(200, Number(params.get('poll')) || 2000);

const client = createClient({ baseUrl: '', timeoutMs: 8000 });
const watch = watchConnection({ baseUrl: '', intervalMs: pollMs, essential: ['business'] });
const drafts = createDraftStore<CaseDraft>({ key: 'breakwater-demo:case-draft' });
let renewals = 0;
const auth = createAuth(client, sessionStorage, () => {
  renewals++;
  document.body.dataset.renewals = String(renewals);
  tell('Your session was renewed in the background.');
});

const form = $<HTMLFormElement>('case-form');
const message = $('message');
let current: CaseDraft = newDraft();
let busy = false;
let note = '';
let noteTimer: ReturnType<typeof setTimeout> | undefined;
let loggedIn = false;

/** A passing remark in the online banner ("back", "renewed"), gone after 15 s. */
function tell(text: string): void {
  note = text;
  clearTimeout(noteTimer);
  noteTimer = setTimeout(() => {
    note = '';
    render();
  }, 15_000);
  render();
}

function newDraft(): CaseDraft {
  return { fields: emptyFields(), caseId: null, idempotencyKey: generateKey() };
}

function say(text: string, kind: 'ok' | 'error' | 'info' = 'info'): void {
  message.textContent = text;
  message.dataset.kind = kind;
}

/** One place decides what is enabled: server functions need the loan system, and no save in flight. */
function render(): void {
  renderBanner($('connection'), watch, note, pollMs);
  const offline = watch.state === 'offline';
  document.querySelectorAll<HTMLButtonElement>('[data-server]').forEach((button) => (button.disabled = offline || busy));
  $('case-id').textContent = current.caseId ? current.caseId : '(new, not saved)';
  $('user').hidden = !loggedIn;
  $('user').textContent = auth.user ?? '';
}

function show(panel: 'login' | 'recovery' | 'editor'): void {
  $('login').hidden = panel !== 'login';
  $('recovery').hidden = panel !== 'recovery';
  $('editor').hidden = panel !== 'editor';
  if (panel !== 'editor') $('printout-panel').hidden = true;
}

/** After a login: offer a case left behind (crash, closed browser, lost session), else the editor. */
function afterLogin(): void {
  loggedIn = true;
  const pending = drafts.pending();
  if (pending && hasContent(pending.value.fields)) {
    const when = new Date(pending.savedAt).toLocaleString();
    const f = pending.value.fields;
    $('recovery-text').textContent = `A case you had not saved was kept on this device (${when}): ${f.borrower || 'no borrower yet'}${f.amountSek ? `, ${f.amountSek} SEK` : ''}. Restore it?`;
    show('recovery');
  } else {
    show('editor');
  }
  render();
}

function keep(): void {
  current.fields = readForm(form);
  $('draft-state').textContent = drafts.save(current) ? 'Kept on this device.' : 'Could not keep a copy on this device.';
}

function needLogin(text: string): void {
  loggedIn = false;
  note = '';
  $<HTMLInputElement>('login-password').value = '';
  show('login');
  const error = $('login-error');
  error.textContent = text;
  error.hidden = false;
  render();
}

/** Save: PUT once the case has an id, else POST with the draft's own key (the same on every attempt and after a renewal). */
async function save(): Promise<void> {
  keep();
  const draft = current;
  const body = JSON.stringify(toCaseBody(draft.fields));
  const headers = { 'content-type': 'application/json' };
  busy = true;
  say('Saving…');
  render();
  try {
    const res = await auth.withSession(() =>
      draft.caseId
        ? client.request(`/api/cases/${encodeURIComponent(draft.caseId)}`, { method: 'PUT', headers, body })
        : client.request('/api/cases', { method: 'POST', headers, body, idempotencyKey: draft.idempotencyKey }),
    );
    const answer = (await res.json()) as { id?: string; message?: string; fields?: Record<string, string> };
    if (res.status === 400) {
      markInvalid(form, answer.fields ?? {});
      say(`Not saved: ${answer.message ?? 'the case is incomplete'}.`, 'error');
    } else if (!res.ok || !answer.id) {
      say(`Not saved: the loan system answered ${res.status}${answer.message ? ` (${answer.message})` : ''}. Your case is kept on this device.`, 'error');
    } else {
      draft.caseId = answer.id;
      markInvalid(form, {});
      drafts.clear();
      $('draft-state').textContent = '';
      say(`Saved as ${answer.id} at ${new Date().toLocaleTimeString()}.`, 'ok');
    }
  } catch (err) {
    failed(err, 'Not saved');
  } finally {
    busy = false;
    render();
  }
}

async function print(): Promise<void> {
  // Read, not kept: printing changes nothing, and a saved case must not come back as a draft.
  current.fields = readForm(form);
  busy = true;
  say('Fetching the printout…');
  render();
  try {
    const body = JSON.stringify({ ...toCaseBody(current.fields), id: current.caseId });
    const res = await auth.withSession(() => client.request('/api/cases/printout', { method: 'POST', headers: { 'content-type': 'application/json' }, body, idempotencyKey: true }));
    if (!res.ok) throw new Error(`the loan system answered ${res.status}`);
    const frame = $<HTMLIFrameElement>('printout');
    frame.srcdoc = await res.text();
    $('printout-panel').hidden = false;
    say('Printout ready.', 'ok');
    // A real print dialog would block an automated browser; a person gets one.
    if (!navigator.webdriver) frame.addEventListener('load', () => frame.contentWindow?.print(), { once: true });
  } catch (err) {
    failed(err, 'No printout');
  } finally {
    busy = false;
    render();
  }
}

function failed(err: unknown, what: string): void {
  if (err instanceof LoginRequired) return needLogin('Your session could not be renewed: please log in again. Your case is kept on this device and will be offered back.');
  if (err instanceof ProblemError) {
    const later = err.problem.retryable ? ' Try again in a moment.' : '';
    say(`${what}: ${err.problem.title} (${err.code}).${later} Your case is kept on this device.`, 'error');
  } else {
    void watch.check().then(render);
    say(`${what}: no answer from the loan system. Your case is kept on this device.`, 'error');
  }
}

form.addEventListener('input', keep);
form.addEventListener('submit', (e) => {
  e.preventDefault();
  void save();
});
$('print').addEventListener('click', () => void print());
$('new-case').addEventListener('click', () => {
  current = newDraft();
  fillForm(form, current.fields);
  drafts.clear();
  $('printout-panel').hidden = true;
  say('');
  render();
});
$('recovery-restore').addEventListener('click', () => {
  const pending = drafts.pending();
  if (pending) current = { ...newDraft(), ...pending.value };
  fillForm(form, current.fields);
  say('Your unsaved case was restored. Save it when you are ready.', 'ok');
  show('editor');
  render();
});
$('recovery-discard').addEventListener('click', () => {
  drafts.clear();
  current = newDraft();
  fillForm(form, current.fields);
  show('editor');
  render();
});
$('login-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const error = $('login-error');
  error.hidden = true;
  auth.login($<HTMLInputElement>('login-user').value, $<HTMLInputElement>('login-password').value).then(afterLogin, (err: unknown) => {
    error.textContent = err instanceof ProblemError ? `Login failed: ${err.problem.title}.` : err instanceof Error ? err.message : String(err);
    error.hidden = false;
  });
});

watch.on('status', () => render());
watch.on('lost', () => {
  note = '';
  render();
});
watch.on('back', () => tell('Back: the loan system answers again.'));
watch.on('restarted', () => tell('The gateway restarted; nothing was lost.'));

render();
auth.resume().then(
  (ok) => (ok ? afterLogin() : (show('login'), render())),
  () => (show('login'), render()),
);
