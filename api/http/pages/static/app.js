// Progressive enhancement: pages are complete without this script; it adds signing
// in this browser (prepare on the server, check, canonicalise, sign here, append through
// the API) on the action, challenge and session pages, evidence upload with progress,
// and the key page. Signing on one's own machine
// ("Sign on my own machine…") is a plain form post and needs none of it; where the
// charter requires that of the user's role, the page offers nothing else and this
// script leaves the forms alone.
import { canonicalBytes } from "./canonical.js";
import { bytesToHex, generateKey, loadKey, sign, supportsEd25519 } from "./keystore.js";

const FORMAT = "inquiry-ledger/event/v2"; // ledger/auditor/entry.py: binds the log's origin
const LOCAL_HASH_LIMIT = 256 * 1024 * 1024; // hash in the browser up to this size
const UNSUPPORTED =
  "This browser cannot make Ed25519 signatures (WebCrypto Ed25519), so it cannot sign for you. " +
  "Use a current Chrome or Edge (137 or later), Firefox (129 or later) or Safari (17 or later), " +
  "or sign with the inquiry-ledger command-line tool. You can still read every page here.";

const meta = (name) => document.querySelector(`meta[name="${name}"]`)?.content || "";

function say(element, kind, text) {
  element.hidden = false;
  element.className = `message ${kind}`;
  element.textContent = text;
  if (kind === "error") element.setAttribute("role", "alert");
}

// Refusals a person can act on, said in their terms (the server's detail follows).
const ADVICE = {
  version_conflict: "Someone else recorded something on this action meanwhile: reload the page, check, and sign again.",
  clock_skew: "The prepared statement is too old to record (or this computer's clock is wrong): send the form again.",
  csrf_failed: "Your session's form token is missing or stale: reload the page and try again.",
  unauthenticated: "You are no longer signed in: sign in again.",
};

async function apiError(response) {
  try {
    const body = await response.json();
    if (ADVICE[body.error]) return `${ADVICE[body.error]} (${body.detail})`;
    const rule = body.rule ? ` [rule: ${body.rule}]` : "";
    const detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
    return `${detail}${rule}`;
  } catch {
    return `the server answered ${response.status}`;
  }
}

async function postJSON(url, payload) {
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": meta("csrf-token") },
    body: JSON.stringify(payload),
  });
  if (!response.ok) throw new Error(await apiError(response));
  return response.json();
}

// The form's own fields for the off-page post, not the command's inputs.
const FORM_FIELDS = new Set(["csrf", "action_id", "command", "key_id", "how"]);

function inputsOf(form) {
  const inputs = {};
  for (const field of form.querySelectorAll("input[name], textarea[name], select[name]")) {
    if (field.type !== "file" && !FORM_FIELDS.has(field.name)) inputs[field.name] = field.value;
  }
  return inputs;
}

// -- upload with progress ---------------------------------------------------------------

function upload(form, file, sha256) {
  const bar = form.querySelector("progress");
  const text = form.querySelector(".progress-text");
  return new Promise((resolve, reject) => {
    const data = new FormData();
    data.append("file", file, file.name);
    if (sha256) data.append("sha256", sha256);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/v1/evidence");
    xhr.setRequestHeader("X-CSRF-Token", meta("csrf-token"));
    xhr.upload.onprogress = (event) => {
      if (!event.lengthComputable) return;
      const percent = Math.round((event.loaded / event.total) * 100);
      bar.value = percent;
      bar.textContent = `${percent}%`;
      text.textContent = `${percent}% uploaded`;
    };
    xhr.onload = () => {
      let body = {};
      try { body = JSON.parse(xhr.responseText); } catch { /* reported below */ }
      if (xhr.status === 201) {
        bar.value = 100;
        text.textContent = "uploaded and verified by the server";
        resolve(body);
      } else {
        text.textContent = "upload refused";
        reject(new Error(body.detail ? String(body.detail) : `upload failed (${xhr.status})`));
      }
    };
    xhr.onerror = () => reject(new Error("the upload was interrupted; nothing was recorded"));
    xhr.send(data);
  });
}

async function uploadInputs(form, inputs) {
  const file = form.querySelector("input[type=file]").files[0];
  if (!file) throw new Error("choose a file first");
  let local = null;
  if (file.size <= LOCAL_HASH_LIMIT) {
    local = bytesToHex(await crypto.subtle.digest("SHA-256", await file.arrayBuffer()));
  }
  const stored = await upload(form, file, local);
  if ((local && stored.sha256 !== local) || stored.size !== file.size) {
    throw new Error("the server stored something other than this file; nothing was signed");
  }
  return {
    sha256: stored.sha256,
    size: stored.size,
    media_type: stored.media_type,
    storage_key: stored.storage_key,
    original_name: file.name,
    description: inputs.description,
    effective_date: inputs.effective_date,
  };
}

// -- checking a prepared body against the form's intent ------------------------------------

const TO_STATUS = { start: "in_progress", submit: "evidence_submitted", block: "blocked", unblock: "in_progress" };

function same(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

// What every prepared body must be, whatever it records: this format, for this log, dated
// now, of the form's type, about what the page is about, signed as this user with this key.
function checkHeader(body, intent, expect, problems) {
  expect("format", body.format, FORMAT);
  expect("log", body.origin, intent.origin);
  // Dated now by this computer's clock (the ledger accepts 5 minutes behind its own, and
  // a signer follows a later floor by at most a minute): a body dated far off would be
  // a statement made for another time.
  const dated = Date.parse(String(body.timestamp).replace(/(\.\d{3})\d*Z$/, "$1Z"));
  const now = Date.now();
  if (!(dated > now - 5 * 60e3 && dated < now + 60e3)) {
    problems.push(`it is dated ${body.timestamp}, not now by this computer's clock`);
  }
  expect("type", body.type, intent.eventType);
  if (intent.aggregate) expect(intent.about || "action", body.aggregate_id, intent.aggregate);
  expect("signer", body.actor, intent.user);
  expect("key", body.key_id, intent.keyId);
}

function expecter(problems) {
  return (what, got, wanted) => { if (!same(got, wanted)) problems.push(`${what} is ${JSON.stringify(got)}, expected ${JSON.stringify(wanted)}`); };
}

export function checkPrepared(body, intent) {
  const problems = [];
  const expect = expecter(problems);
  if (!intent.aggregate) problems.push("the page names no action");
  checkHeader(body, intent, expect, problems);
  const p = body.payload || {};
  const i = intent.inputs;
  switch (intent.command) {
    case "sign_off":
      expect("statement", p.statement, (i.statement || "").trim());
      expect("evidence named", p.evidence, intent.evidence);
      break;
    case "return":
      expect("reasons", p.reasons, i.reasons.split("\n").map((s) => s.trim()).filter(Boolean));
      break;
    case "rate":
      expect("rating", p.rating, i.rating);
      expect("reason", p.reason, i.reason.trim());
      break;
    case "comment":
    case "challenge":
      expect("kind", p.kind, intent.command);
      expect("text", p.text, i.text.trim());
      break;
    case "update":
      for (const name of ["period", "done", "next", "risks"]) expect(name, p[name], (i[name] || "").trim());
      break;
    case "attach":
      for (const name of ["sha256", "size", "storage_key", "original_name", "effective_date"]) {
        expect(name, p[name], i[name]);
      }
      expect("description", p.description, i.description.trim());
      break;
    default:
      if (TO_STATUS[intent.command]) expect("new status", p.to_status, TO_STATUS[intent.command]);
      if (i.reason !== undefined) expect("reason", p.reason, i.reason.trim());
  }
  return problems;
}

// -- the action page's forms ---------------------------------------------------------------

// A payload member as the review shows it: a list joined, an object (an action arising's
// owner, {"agency": "police"}) as "agency police", nothing as "none".
export function shownValue(value) {
  if (Array.isArray(value)) return value.join("; ") || "none";
  if (value === null || value === undefined) return "none";
  if (typeof value === "object") return Object.entries(value).map(([k, v]) => `${k} ${v}`).join(", ") || "none";
  return String(value);
}

function showReview(section, body, label, version = "Action version") {
  const review = section.querySelector("#review");
  const facts = review.querySelector("#review-facts");
  facts.replaceChildren();
  const rows = [
    ["You are signing", label],
    ["As", `${body.actor} with key ${body.key_id}`],
    [version, String(body.version)],
    ["Time (UTC)", body.timestamp],
  ];
  for (const [name, value] of Object.entries(body.payload)) {
    rows.push([name.replaceAll("_", " "), shownValue(value)]);
  }
  for (const [dt, dd] of rows) {
    const wrap = document.createElement("div");
    const t = document.createElement("dt");
    const d = document.createElement("dd");
    t.textContent = dt;
    d.textContent = dd;
    wrap.append(t, d);
    facts.append(wrap);
  }
  review.querySelector("#review-json").textContent = new TextDecoder().decode(canonicalBytes(body));
  review.hidden = false;
  review.focus();
  return new Promise((resolve) => {
    const sign = review.querySelector("#review-sign");
    const cancel = review.querySelector("#review-cancel");
    const done = (answer) => {
      sign.onclick = cancel.onclick = null;
      review.hidden = true;
      resolve(answer);
    };
    sign.onclick = () => done(true);
    cancel.onclick = () => done(false);
  });
}

async function signAndRecord(section, form, status) {
  const user = meta("ledger-user");
  const key = await loadKey(user);
  if (!key) {
    if (!(await supportsEd25519())) return say(status, "error", UNSUPPORTED);
    return say(status, "error", NO_KEY);
  }
  const command = form.dataset.command;
  let inputs = inputsOf(form);
  if (form.dataset.upload) {
    say(status, "", "Uploading…");
    inputs = await uploadInputs(form, inputs);
  }
  say(status, "", "Preparing the statement…");
  const prepared = await postJSON("/web/prepare", {
    action_id: section.dataset.action, command, key_id: key.keyId, inputs,
  });
  const body = prepared.body;
  const problems = checkPrepared(body, {
    command, inputs, user, keyId: key.keyId,
    eventType: form.dataset.eventType,
    aggregate: section.dataset.aggregate,
    origin: section.dataset.origin,
    evidence: (section.dataset.evidence || "").split(",").filter(Boolean),
  });
  const leaf = await reviewSignRecord(section, status, key, body, problems, prepared.label);
  if (leaf !== null) {
    location.assign(`/actions/${encodeURIComponent(section.dataset.action)}?recorded=${leaf}`);
  }
}

// The steps after a body is prepared, for an action's forms and the holding-to-account
// ones alike: refuse it if it does not match the form, show it, and only once the user
// confirms sign it with their own key and post it. The leaf index, or null if not signed.
async function reviewSignRecord(section, status, key, body, problems, label, version) {
  if (problems.length) {
    say(status, "error", `Not signed: the prepared statement does not match your form (${problems.join("; ")}).`);
    return null;
  }
  status.hidden = true;
  if (!(await showReview(section, body, label, version))) {
    say(status, "", "Cancelled; nothing was signed.");
    return null;
  }
  const signature = await sign(key, canonicalBytes(body));
  const result = await postJSON("/v1/entries", {
    entries: [{ body, signature }],
    command_id: `web-${crypto.randomUUID()}`,
  });
  const leaf = result.appended[0].leaf_index;
  say(status, "ok", `Signed and recorded at log position ${leaf}.`);
  return leaf;
}

const NO_KEY =
  "This browser holds no signing key for you. Make one on the 'Your signing key' page and ask whoever appoints you (the chair, the implementation group or your agency's lead) to register it, " +
  "or use 'Sign on my own machine' with a key file there.";

async function wireActionPage(section) {
  if (section.dataset.browserSigning !== "1") return; // the charter: off-page signing only
  for (const element of section.querySelectorAll(".js-only")) element.hidden = false;
  const status = section.querySelector("#sign-status");
  // Say so before anyone fills in a form, not after.
  if (!(await loadKey(meta("ledger-user")))) {
    say(status, "error", (await supportsEd25519()) ? NO_KEY : UNSUPPORTED);
  }
  for (const form of section.querySelectorAll("form.sign-form")) {
    form.addEventListener("submit", async (event) => {
      if (event.submitter?.dataset.sign === "off-page") return; // a plain post: sign elsewhere
      event.preventDefault();
      const button = form.querySelector("button[data-sign=browser]");
      button.disabled = true;
      try {
        await signAndRecord(section, form, status);
      } catch (error) {
        say(status, "error", `Not recorded: ${error.message}`);
      } finally {
        button.disabled = false;
      }
    });
  }
}

// -- the challenge and session pages' forms ------------------------------------------------
// (api/application/prepare_holding.py): prepared by POST /web/prepare/challenge or
// /web/prepare/session, checked against the form here, shown, signed here, recorded.

const lines = (text) => String(text || "").split("\n").map((s) => s.trim()).filter(Boolean);

function holdingInputs(form) {
  const inputs = {};
  for (const field of form.querySelectorAll("input[name], textarea[name], select[name]")) {
    if (FORM_FIELDS.has(field.name)) continue;
    if (field.type === "checkbox") {
      const before = inputs[field.name] || "";
      if (field.checked) inputs[field.name] = before ? `${before}\n${field.value}` : field.value;
      else inputs[field.name] = before;
    } else {
      inputs[field.name] = field.value;
    }
  }
  return inputs;
}

export function checkHolding(body, intent) {
  const problems = [];
  const expect = expecter(problems);
  checkHeader(body, intent, expect, problems);
  const p = body.payload || {};
  const i = intent.inputs;
  const text = (name) => (i[name] || "").trim();
  switch (`${intent.kind}.${intent.command}`) {
    case "challenge.raise":
      expect("subject", p.subject, text("subject").toUpperCase());
      if (text("agency")) expect("agency asked", p.agency, text("agency"));
      expect("question", p.text, text("text"));
      if (!/^C[1-9][0-9]*$/.test(String(p.challenge_id))) problems.push("it names no new challenge");
      break;
    case "challenge.answer":
      expect("answer", p.text, text("text"));
      expect("evidence cited", p.evidence, lines(i.evidence));
      break;
    case "challenge.close":
      expect("outcome", p.outcome, i.outcome);
      expect("reason", p.reason, text("reason"));
      break;
    case "challenge.escalate":
      expect("escalated to", p.to, i.to);
      expect("reason", p.reason, text("reason"));
      break;
    case "session.approve":
      expect("minutes SHA-256", p.minutes_sha256, i.minutes_sha256);
      expect("log positions", p.entries, intent.entries);
      break;
    case "session.arising_add": {
      const [kind, id] = (i.owner || "").split(/:(.*)/s);
      expect("recommendation", p.recommendation, Number(i.recommendation));
      expect("owner", p.owner, { [kind]: id });
      expect("due", p.due_date, text("due_date"));
      expect("done means", p.done_means, text("done_means"));
      expect("the action", p.text, text("text"));
      break;
    }
    case "session.arising_close":
      expect("action arising", p.arising_id, i.arising_id);
      expect("reason", p.reason, text("reason"));
      expect("evidence", p.evidence, text("evidence") || null);
      break;
    default:
      problems.push(`this page does not sign ${intent.command}`);
  }
  return problems;
}

async function signHolding(section, form, status) {
  const user = meta("ledger-user");
  const key = await loadKey(user);
  if (!key) {
    if (!(await supportsEd25519())) return say(status, "error", UNSUPPORTED);
    return say(status, "error", NO_KEY);
  }
  const kind = section.dataset.kind;
  const command = form.dataset.command;
  const inputs = holdingInputs(form);
  say(status, "", "Preparing the statement…");
  const prepared = await postJSON(`/web/prepare/${kind}`, {
    [`${kind}_id`]: section.dataset.subject, command, key_id: key.keyId, inputs,
  });
  const body = prepared.body;
  const problems = checkHolding(body, {
    kind, command, inputs, user, keyId: key.keyId,
    eventType: form.dataset.eventType,
    aggregate: section.dataset.aggregate,
    about: kind,
    origin: section.dataset.origin,
    entries: (section.dataset.entries || "").split(",").filter(Boolean).map(Number),
  });
  const version = `${kind[0].toUpperCase()}${kind.slice(1)} version`;
  const leaf = await reviewSignRecord(section, status, key, body, problems, prepared.label, version);
  if (leaf === null) {
    return;
  }
  const after = command === "raise" ? `/challenges/${encodeURIComponent(body.payload.challenge_id)}` : section.dataset.after;
  location.assign(`${after}?recorded=${leaf}`);
}

async function wireHoldingPage(section) {
  if (section.dataset.browserSigning !== "1") return; // the charter: off-page signing only
  for (const element of section.querySelectorAll(".js-only")) element.hidden = false;
  const status = section.querySelector("#sign-status");
  if (!(await loadKey(meta("ledger-user")))) {
    say(status, "error", (await supportsEd25519()) ? NO_KEY : UNSUPPORTED);
  }
  for (const form of section.querySelectorAll("form.sign-form")) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = form.querySelector("button[data-sign=browser]");
      button.disabled = true;
      try {
        await signHolding(section, form, status);
      } catch (error) {
        say(status, "error", `Not recorded: ${error.message}`);
      } finally {
        button.disabled = false;
      }
    });
  }
}

// -- the key page ----------------------------------------------------------------------------

function showKey(app, record) {
  app.querySelector("#key-result").hidden = false;
  app.querySelector("#key-id").textContent = record.keyId;
  app.querySelector("#key-public").textContent = record.publicKey;
  app.querySelector("#key-command-add").textContent =
    `inquiry-ledger --as APPOINTER --key APPOINTER.key users add ${record.user} --name "NAME" --role ROLE [--agency AGENCY] --public-key ${record.publicKey}`;
  const registered = (app.dataset.registered || "").split(",").filter(Boolean);
  if (app.dataset.user === record.user) {
    const note = app.querySelector("#key-registered");
    note.hidden = false;
    note.textContent = registered.includes(record.keyId)
      ? `This browser's key ${record.keyId} is registered to you: you can sign here.`
      : `This browser's key ${record.keyId} is not registered to you yet.`;
  }
}

async function wireKeyPage(app) {
  app.hidden = false;
  const support = app.querySelector("#keys-support");
  const button = app.querySelector("#key-generate");
  const userField = app.querySelector("#key-user");
  if (!(await supportsEd25519())) {
    say(support, "error", UNSUPPORTED);
    button.disabled = true;
    return;
  }
  const existing = await loadKey(userField.value.trim());
  if (existing) showKey(app, existing);
  button.addEventListener("click", async () => {
    const user = userField.value.trim();
    if (!/^[a-z0-9][a-z0-9._-]{0,63}$/.test(user)) {
      say(support, "error", "Enter your user id (lower-case letters, digits, '.', '_' or '-').");
      userField.focus();
      return;
    }
    support.hidden = true;
    showKey(app, await generateKey(user));
    app.querySelector("#key-id").focus?.();
  });
}

const section = document.querySelector("#act");
if (section) wireActionPage(section);
const holding = document.querySelector("#holding");
if (holding) wireHoldingPage(holding);
const keys = document.querySelector("#keys-app");
if (keys) wireKeyPage(keys);
