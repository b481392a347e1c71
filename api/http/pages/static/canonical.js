// RFC 8785 (JCS) canonical JSON, restricted as ledger/auditor/canonical.py is: integers only
// (|n| <= 2^53 - 1), no floats, strings must be well-formed Unicode. Object members are
// sorted by the UTF-16 code units of their names (JavaScript's default string order);
// strings are escaped exactly as JSON.stringify does, which is what RFC 8785 specifies
// and what Python's json.dumps(ensure_ascii=False) produces.

export class CanonicalFormError extends Error {}

export function canonicalize(value, path = "$") {
  if (value === null) return "null";
  switch (typeof value) {
    case "boolean":
      return value ? "true" : "false";
    case "number":
      if (!Number.isSafeInteger(value)) {
        throw new CanonicalFormError(`${path}: only integers within 2^53 are allowed`);
      }
      return String(value);
    case "string":
      if (!value.isWellFormed()) {
        throw new CanonicalFormError(`${path}: string is not valid Unicode (lone surrogate)`);
      }
      return JSON.stringify(value);
    case "object": {
      if (Array.isArray(value)) {
        return "[" + value.map((item, i) => canonicalize(item, `${path}[${i}]`)).join(",") + "]";
      }
      const names = Object.keys(value).sort();
      return "{" + names.map((name) => {
        if (!name.isWellFormed()) throw new CanonicalFormError(`${path}: bad member name`);
        return JSON.stringify(name) + ":" + canonicalize(value[name], `${path}.${name}`);
      }).join(",") + "}";
    }
    default:
      throw new CanonicalFormError(`${path}: ${typeof value} is not a JSON value`);
  }
}

export function canonicalBytes(value) {
  return new TextEncoder().encode(canonicalize(value));
}
