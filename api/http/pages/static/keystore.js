// Each user's Ed25519 private key, generated here with extractable=false and kept in
// IndexedDB as a CryptoKey: scripts on this page can ask it to sign but can never read
// it out, and it never travels to the server. Records are per user id, so two people
// sharing a browser profile do not overwrite each other's keys.

const DB = "inquiry-ledger";
const STORE = "signing-keys";

function open() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE, { keyPath: "user" });
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function run(mode, action) {
  const db = await open();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const request = action(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(request.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

export function bytesToBase64(bytes) {
  let text = "";
  for (const b of new Uint8Array(bytes)) text += String.fromCharCode(b);
  return btoa(text);
}

export function bytesToHex(bytes) {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

export async function keyIdOf(rawPublicKey) {
  // The ledger's key id: the first 16 hex digits of SHA-256 of the raw public key.
  return bytesToHex(await crypto.subtle.digest("SHA-256", rawPublicKey)).slice(0, 16);
}

export async function supportsEd25519() {
  try {
    await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
    return true;
  } catch {
    return false;
  }
}

export async function generateKey(user) {
  const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
  const raw = await crypto.subtle.exportKey("raw", pair.publicKey);
  const record = {
    user,
    privateKey: pair.privateKey,
    publicKey: bytesToBase64(raw),
    keyId: await keyIdOf(raw),
    created: new Date().toISOString(),
  };
  await run("readwrite", (store) => store.put(record));
  return record;
}

export async function loadKey(user) {
  if (!user) return null;
  return (await run("readonly", (store) => store.get(user))) || null;
}

export async function sign(record, bytes) {
  return bytesToBase64(await crypto.subtle.sign({ name: "Ed25519" }, record.privateKey, bytes));
}
