// The public tracker's own check, run in the reader's browser (no third-party code).
//
// What it checks, with WebCrypto only, against the keys the reader pinned on the keys
// page (kept in this browser's localStorage, never sent anywhere):
//   1. the checkpoint the page was built from is signed by the log's key (C2SP signed
//      note, Ed25519);
//   2. each pinned witness's cosignature (C2SP cosignature/v1) on the newest cosigned
//      checkpoint, and the consistency proof from that one to the page's (RFC 9162
//      2.1.4.2), so the witnessed tree is a prefix of the one the page shows;
//   3. every entry behind what the page shows: its leaf hash (SHA-256 of 0x00 and the
//      entry's bytes, hashed here) and its inclusion proof to the checkpoint's root
//      (RFC 9162 2.1.3.2);
//   4. that each fact the page shows says what its entry says: the entry's type, its
//      aggregate (the action or plan it is shown under), its time, and every member
//      shown, in the page's own text.
// What it cannot check: that no entry was left out, and who signed each entry (the
// signer's key and authority); `inquiry-ledger verify-bundle` checks both.
// The page says "Verified against checkpoint N, cosigned by W at T", or names the
// first failure. Its verdict is also in #verification[data-verdict] for machines.

const PINS = "inquiry-ledger.public.pins";
const NAMESPACE = "6f1b7a52-1c3e-5d7a-9a52-6e9f1c0b7d21"; // domain/ids.py
const SIGNATURE_ED25519 = 0x01;
const SIGNATURE_COSIGNATURE_V1 = 0x04;
const SIGN_OFF_STATUS = {agency: "agency_signed_off", implementation_group: "accepted", chair: "verified"};

class CheckFailed extends Error {}

const encoder = new TextEncoder();
const utf8 = (text) => encoder.encode(text);

function fromBase64(text) {
  const raw = atob(text);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

// -- keys and signed notes (C2SP signed-note) ----------------------------------------

async function keyHash(name, type, publicKey) {
  return (await sha256(concat(utf8(name), new Uint8Array([0x0a, type]), publicKey))).slice(0, 4);
}

async function parseVkey(text, type) {
  const parts = text.trim().split("+");
  if (parts.length < 3) throw new CheckFailed(`not a key: ${text}`);
  const [name, hash] = parts;
  const blob = fromBase64(parts.slice(2).join("+"));
  if (blob[0] !== type || blob.length !== 33) throw new CheckFailed(`not an Ed25519 key of the right kind: ${name}`);
  const publicKey = blob.slice(1);
  const expected = await keyHash(name, type, publicKey);
  if (Array.from(expected, (b) => b.toString(16).padStart(2, "0")).join("") !== hash) {
    throw new CheckFailed(`the key ${name} does not match its own key hash`);
  }
  const key = await crypto.subtle.importKey("raw", publicKey, {name: "Ed25519"}, false, ["verify"]);
  return {name, hash: expected, key};
}

function splitNote(note) {
  const at = note.lastIndexOf("\n\n");
  if (at < 0) throw new CheckFailed("the checkpoint is not a signed note");
  const text = note.slice(0, at + 1);
  const signatures = [];
  for (const line of note.slice(at + 2).split("\n")) {
    if (!line) continue;
    const match = /^\u2014 (\S+) (\S+)$/.exec(line);
    if (!match) throw new CheckFailed("a signature line of the checkpoint is malformed");
    signatures.push({name: match[1], raw: fromBase64(match[2])});
  }
  return {text, signatures};
}

function parseCheckpoint(text) {
  const lines = text.split("\n");
  if (lines.length < 4 || !/^\d+$/.test(lines[1])) throw new CheckFailed("the checkpoint's body is malformed");
  return {origin: lines[0], size: Number(lines[1]), root: fromBase64(lines[2])};
}

async function verifiedBy(note, vkey) {
  const {text, signatures} = splitNote(note);
  for (const s of signatures) {
    if (s.name !== vkey.name || !equalBytes(s.raw.slice(0, 4), vkey.hash)) continue;
    if (await crypto.subtle.verify({name: "Ed25519"}, vkey.key, s.raw.slice(4), utf8(text))) {
      return parseCheckpoint(text);
    }
    throw new CheckFailed(`the log key's signature on the checkpoint is not valid`);
  }
  throw new CheckFailed(`the checkpoint is not signed by the pinned log key ${vkey.name}`);
}

async function cosignedAt(note, witness) {
  const {text, signatures} = splitNote(note);
  for (const s of signatures) {
    if (s.name !== witness.name || !equalBytes(s.raw.slice(0, 4), witness.hash)) continue;
    if (s.raw.length !== 4 + 8 + 64) throw new CheckFailed(`the cosignature of ${witness.name} is malformed`);
    const time = new DataView(s.raw.buffer, s.raw.byteOffset + 4, 8).getBigUint64(0);
    const message = concat(utf8(`cosignature/v1\ntime ${time}\n`), utf8(text));
    if (await crypto.subtle.verify({name: "Ed25519"}, witness.key, s.raw.slice(12), message)) {
      return Number(time);
    }
    throw new CheckFailed(`the cosignature of witness ${witness.name} is not valid`);
  }
  return null;
}

// -- Merkle proofs (RFC 9162) ---------------------------------------------------------

// Sizes may pass 2^31, where JavaScript's bitwise operators stop working: arithmetic only.
const odd = (n) => n % 2 === 1;
function powerOfTwo(n) {
  while (n > 1 && !odd(n)) n = half(n);
  return n === 1;
}
const half = (n) => Math.floor(n / 2);
const nodeHash = (left, right) => sha256(concat(new Uint8Array([1]), left, right));
const leafHash = (entry) => sha256(concat(new Uint8Array([0]), entry));

export async function inclusionRoot(index, size, leaf, proof) {
  if (!(index >= 0 && index < size)) return null;
  let fn = index, sn = size - 1, r = leaf;
  for (const p of proof) {
    if (sn === 0) return null;
    if (odd(fn) || fn === sn) {
      r = await nodeHash(p, r);
      while (fn !== 0 && !odd(fn)) { fn = half(fn); sn = half(sn); }
    } else {
      r = await nodeHash(r, p);
    }
    fn = half(fn); sn = half(sn);
  }
  return sn === 0 ? r : null;
}

export async function consistent(oldSize, newSize, oldRoot, newRoot, proof) {
  if (oldSize === newSize) return proof.length === 0 && equalBytes(oldRoot, newRoot);
  if (oldSize === 0 || oldSize > newSize || proof.length === 0) return false;
  const path = proof.slice();
  if (powerOfTwo(oldSize)) path.unshift(oldRoot); // the old tree is one node the proof omits
  let fn = oldSize - 1, sn = newSize - 1;
  while (odd(fn)) { fn = half(fn); sn = half(sn); }
  let fr = path[0], sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (odd(fn) || fn === sn) {
      fr = await nodeHash(c, fr); sr = await nodeHash(c, sr);
      while (fn !== 0 && !odd(fn)) { fn = half(fn); sn = half(sn); }
    } else {
      sr = await nodeHash(sr, c);
    }
    fn = half(fn); sn = half(sn);
  }
  return sn === 0 && equalBytes(fr, oldRoot) && equalBytes(sr, newRoot);
}

// -- the facts against their entries --------------------------------------------------

async function uuid5(name) {
  const ns = Uint8Array.from(NAMESPACE.replace(/-/g, "").match(/../g), (h) => parseInt(h, 16));
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-1", concat(ns, utf8(name)))).slice(0, 16);
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  const hex = Array.from(hash, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function sameValue(shown, signed) {
  if (shown === null || typeof shown !== "object") return shown === signed;
  if (signed === null || typeof signed !== "object") return false;
  if (Array.isArray(shown)) {
    return Array.isArray(signed) && shown.length === signed.length && shown.every((v, i) => sameValue(v, signed[i]));
  }
  return Object.keys(shown).every((k) => k in signed && sameValue(shown[k], signed[k]));
}

async function checkFact(fact, entry, origin) {
  const subject = fact.subject === "plan" ? "plan" : `action:${fact.subject}`;
  const where = `log entry ${fact.leaf_index}`;
  if (entry.type !== fact.type) throw new CheckFailed(`${where} is a ${entry.type}, not the ${fact.type} the page shows`);
  if (entry.origin !== origin) throw new CheckFailed(`${where} was made for another log (${entry.origin})`);
  if (entry.aggregate_id !== await uuid5(subject)) throw new CheckFailed(`${where} is not about ${fact.subject}`);
  if (entry.timestamp !== fact.timestamp) throw new CheckFailed(`${where} is dated ${entry.timestamp}, not ${fact.timestamp}`);
  for (const [name, value] of Object.entries(fact.shown)) {
    if (!sameValue(value, entry.payload[name])) throw new CheckFailed(`${where}: its ${name} is not what the page shows`);
  }
}

// How a page reads an entry's type and time (api/http/pages/render.py: words, stamp).
const words = (type) => type.replace(/^action\./, "").replaceAll("_", " ").replaceAll(".", " ");
const stamp = (timestamp) => `${timestamp.slice(0, 19).replace("T", " ")} UTC`;

// The signed value an element shows: a payload member, or one string of a list member
// (data-index) or of an object member (data-key).
function signedMember(element, entry) {
  const value = entry.payload[element.dataset.field];
  const {index, key} = element.dataset;
  if (index !== undefined) return Array.isArray(value) ? value[Number(index)] : undefined;
  if (key !== undefined) {
    return value && typeof value === "object" && !Array.isArray(value) && Object.hasOwn(value, key) ? value[key] : undefined;
  }
  return value;
}

function checkText(element, entry) {
  const item = element.closest("[data-leaf]");
  const leaf = item.dataset.leaf;
  const name = element.dataset.field;
  const text = element.textContent.trim();
  if (name === "timestamp") {
    if (element.getAttribute("datetime") !== entry.timestamp || text !== stamp(entry.timestamp)) {
      throw new CheckFailed(`the time shown for log entry ${leaf} is not the entry's`);
    }
    return;
  }
  if (name === "type") {
    if (text !== words(entry.type)) throw new CheckFailed(`log entry ${leaf} is shown as ${text}, but it is a ${entry.type}`);
    return;
  }
  if (name === "subject") {
    // The item's data-subject is checked against the entry's aggregate (checkDocument).
    if (text !== item.dataset.subject) throw new CheckFailed(`log entry ${leaf} is shown on ${text}, not on ${item.dataset.subject}`);
    return;
  }
  const signed = signedMember(element, entry);
  if (typeof signed !== "string" || text !== signed.trim()) {
    throw new CheckFailed(`the ${name} shown for log entry ${leaf} is not what the entry says`);
  }
}

function statusSetBy(entry) {
  if (entry.type === "action.status_changed") return entry.payload.to_status;
  if (entry.type === "action.signed_off") return SIGN_OFF_STATUS[entry.payload.level];
  if (entry.type === "action.merged") return "merged";
  if (entry.type === "action.withdrawn") return "withdrawn";
  return undefined; // returns and revocations go back a step: the entry alone cannot say where
}

// -- the whole check ------------------------------------------------------------------

export {parseVkey, verifiedBy, cosignedAt, uuid5, leafHash};

export function pinnedKeys() {
  try {
    const pins = JSON.parse(localStorage.getItem(PINS) || "null");
    return pins && typeof pins.log === "string" ? pins : null;
  } catch {
    return null;
  }
}

export async function checkPage(found, pins) {
  const keys = pins || {log: found.keys.log, witnesses: found.keys.witnesses};
  const proofs = found.proofs;
  const logKey = await parseVkey(keys.log, SIGNATURE_ED25519);
  const checkpoint = await verifiedBy(proofs.checkpoint.note, logKey);
  if (checkpoint.size !== proofs.checkpoint.tree_size) throw new CheckFailed("the checkpoint's size is not the one the page names");
  const cosigners = [];
  const witnesses = await Promise.all((keys.witnesses || []).map((w) => parseVkey(w, SIGNATURE_COSIGNATURE_V1)));
  if (witnesses.length) {
    if (!proofs.cosigned) throw new CheckFailed("no witness has cosigned any checkpoint this page could be checked against");
    const old = await verifiedBy(proofs.cosigned.note, logKey);
    if (!await consistent(old.size, checkpoint.size, old.root, checkpoint.root, proofs.cosigned.consistency.map(fromBase64))) {
      throw new CheckFailed(`the cosigned checkpoint ${old.size} is not a prefix of checkpoint ${checkpoint.size}: the log was rewritten`);
    }
    for (const w of witnesses) {
      const time = await cosignedAt(proofs.cosigned.note, w);
      if (time === null) throw new CheckFailed(`witness ${w.name} has not cosigned checkpoint ${old.size}`);
      cosigners.push({name: w.name, time, size: old.size});
    }
  }
  const entries = new Map();
  for (const e of proofs.entries) {
    const bytes = fromBase64(e.entry);
    const root = await inclusionRoot(e.leaf_index, checkpoint.size, await leafHash(bytes), e.proof.map(fromBase64));
    if (root === null || !equalBytes(root, checkpoint.root)) {
      throw new CheckFailed(`log entry ${e.leaf_index} is not in the log at checkpoint ${checkpoint.size}`);
    }
    entries.set(e.leaf_index, JSON.parse(new TextDecoder().decode(bytes)));
  }
  const facts = found.view.entries || [];
  for (const fact of facts) {
    const entry = entries.get(fact.leaf_index);
    if (!entry) throw new CheckFailed(`the page shows log entry ${fact.leaf_index} without its proof`);
    await checkFact(fact, entry, checkpoint.origin);
  }
  return {checkpoint, cosigners, entries, facts: facts.length, pinned: Boolean(pins)};
}

async function checkDocument(result) {
  // Each decision the page lists is shown under the action (or plan) its entry is about,
  // as the type its entry is: the status check below relies on data-subject.
  for (const item of document.querySelectorAll("[data-leaf][data-subject]")) {
    const entry = result.entries.get(Number(item.dataset.leaf));
    if (!entry) throw new CheckFailed(`the page shows log entry ${item.dataset.leaf} without its proof`);
    const subject = item.dataset.subject === "plan" ? "plan" : `action:${item.dataset.subject}`;
    if (entry.aggregate_id !== await uuid5(subject)) throw new CheckFailed(`log entry ${item.dataset.leaf} is not about ${item.dataset.subject}`);
    if (item.dataset.type !== undefined && item.dataset.type !== entry.type) {
      throw new CheckFailed(`log entry ${item.dataset.leaf} is a ${entry.type}, not the ${item.dataset.type} the page shows`);
    }
  }
  for (const element of document.querySelectorAll("[data-leaf] [data-field], [data-leaf][data-field]")) {
    const leaf = Number(element.closest("[data-leaf]").dataset.leaf);
    const entry = result.entries.get(leaf);
    if (!entry) throw new CheckFailed(`the page shows log entry ${leaf} without its proof`);
    checkText(element, entry);
  }
  let statuses = 0;
  for (const action of document.querySelectorAll("[data-action][data-status]")) {
    // This action's decisions in the page's (log) order, each with its entry.
    const decisions = [...document.querySelectorAll(`li[data-leaf][data-subject="${CSS.escape(action.dataset.action)}"]`)]
      .map((li) => result.entries.get(Number(li.dataset.leaf)))
      .filter(Boolean);
    const last = decisions.findLastIndex((e) => statusSetBy(e) !== undefined);
    if (last < 0) continue;
    // A later return, revocation or transfer (which sets an agency sign-off aside) goes
    // back a step, to a status the entries shown here cannot name without replaying the
    // action: not checked on this page.
    const steppedBack = decisions.slice(last + 1).some((e) => ["action.returned", "action.sign_off_revoked", "action.lead_agency_transferred"].includes(e.type));
    if (steppedBack) continue;
    statuses += 1;
    if (statusSetBy(decisions[last]) !== action.dataset.status) {
      throw new CheckFailed(`the status shown for ${action.dataset.action} is not what its latest decision says`);
    }
  }
  return statuses;
}

function say(verdict, text, details) {
  const status = document.getElementById("verification");
  status.dataset.verdict = verdict;
  status.textContent = text;
  const list = document.getElementById("verification-details");
  list.replaceChildren(...details.map((d) => Object.assign(document.createElement("li"), {textContent: d})));
}

function when(seconds) {
  return new Date(seconds * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

async function run() {
  const data = document.getElementById("public-proofs");
  if (data) {
    const found = JSON.parse(data.textContent);
    const pins = pinnedKeys();
    try {
      const result = await checkPage(found, pins);
      const statuses = await checkDocument(result);
      const cosigned = result.cosigners.map((c) => `${c.name} at ${when(c.time)}`).join(", ");
      const sentence = `Verified against checkpoint ${result.checkpoint.size}` +
        (cosigned ? `, cosigned by ${cosigned}` : "") + ".";
      const details = [
        `${result.entries.size} log entries are in the log, each proven to the checkpoint's root; the ${result.facts} decisions shown say what their entries say.`,
        statuses ? `${statuses} action statuses agree with their latest decision.` : "",
        result.cosigners.some((c) => c.size !== result.checkpoint.size)
          ? `The witnesses cosigned checkpoint ${result.cosigners[0].size}; checkpoint ${result.checkpoint.size} extends it (consistency proof checked).` : "",
        pins ? "Checked against the keys you pinned." : "No keys are pinned in this browser: this was checked against the keys the server states, which proves nothing on its own. Compare them with the chair's and pin them on the keys page.",
        "Not checked here: that no entry was left out, and who signed each entry; the full audit (inquiry-ledger verify-bundle) checks both.",
      ].filter(Boolean);
      say(pins ? "verified" : "unpinned", pins ? sentence : `${sentence} (keys not pinned)`, details);
    } catch (error) {
      const reason = error instanceof CheckFailed ? error.message : `the check could not run: ${error.message || error}`;
      say("failed", `Verification failed: ${reason}.`, ["Do not rely on this page. Tell the inquiry's chair."]);
    }
  }
  installPinForm();
}

function installPinForm() {
  const form = document.getElementById("pin-form");
  if (!form) return;
  const status = document.getElementById("pin-status");
  const show = () => {
    const pins = pinnedKeys();
    form.elements.log.value = pins ? pins.log : "";
    form.elements.witnesses.value = pins ? pins.witnesses.join("\n") : "";
    status.textContent = pins ? "Keys are pinned in this browser." : "No keys are pinned in this browser.";
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const log = form.elements.log.value.trim();
    const witnesses = form.elements.witnesses.value.split("\n").map((w) => w.trim()).filter(Boolean);
    try {
      await parseVkey(log, SIGNATURE_ED25519);
      for (const w of witnesses) await parseVkey(w, SIGNATURE_COSIGNATURE_V1);
    } catch (error) {
      status.textContent = `Not pinned: ${error.message}.`;
      return;
    }
    localStorage.setItem(PINS, JSON.stringify({log, witnesses}));
    show();
  });
  document.getElementById("pin-stated").addEventListener("click", () => {
    form.elements.log.value = document.getElementById("stated-log-key").textContent.trim();
    form.elements.witnesses.value = [...document.querySelectorAll(".stated-witness-key")].map((e) => e.textContent.trim()).join("\n");
    status.textContent = "Filled in the keys this server states: compare them with the chair's before you pin them.";
  });
  document.getElementById("pin-clear").addEventListener("click", () => {
    localStorage.removeItem(PINS);
    show();
  });
  show();
}

if (typeof document !== "undefined") run(); // a page; not when a test imports this module
