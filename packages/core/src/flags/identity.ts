// When two user or tenant ids are the same id: equal in Unicode NFC, so "café" typed precomposed
// or as "e" plus a combining accent is one user. ASCII is its own NFC, so the ids nearly everyone
// uses are never normalised. Bucketing does not use this: it hashes the id exactly as given.

/** True when every UTF-16 unit is below 0x80; such a string is already in NFC. */
function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false
  return true
}

/** The NFC form of an id; an ASCII id is returned as it is, without a call to normalize(). */
export function toNfc(id: string): string {
  return isAscii(id) ? id : id.normalize('NFC')
}

/**
 * The ASCII characters that are the NFC of another character: U+212A KELVIN SIGN → K, U+037E
 * GREEK QUESTION MARK → ; and U+1FEF GREEK VARIA → `, the only code points whose canonical
 * decomposition is ASCII (the tests check every code point).
 */
export const ASCII_NFC_TARGETS = 'K;`'
const TARGET = /[K;`]/

/**
 * Whether a stored (NFC) id is also the NFC of some other string, so a context id that misses it
 * must be normalised and looked up again. A string other than the id has an ASCII id as its NFC
 * only through the characters above; every other ASCII id can only be matched as it is.
 */
export function hasOtherForms(id: string): boolean {
  return !isAscii(id) || TARGET.test(id)
}

/**
 * Whether `ids` (held in NFC) names `id`, given in any form. `otherForms`: whether any of `ids`
 * hasOtherForms; when none does, as for ASCII ids without K ; or `, a miss costs nothing more.
 */
export function hasId(ids: ReadonlySet<string>, id: string, otherForms: boolean): boolean {
  if (ids.has(id)) return true
  if (!otherForms || isAscii(id)) return false
  const nfc = id.normalize('NFC')
  return nfc !== id && ids.has(nfc)
}
