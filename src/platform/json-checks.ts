// Checks on untrusted JSON that both edges (HTTP bodies, WebSocket messages) make before a
// value goes further: how deep it nests (checked on the text, before parsing, so a hostile
// document cannot exhaust the stack) and whether it smuggles a NUL character.

/** Whether `text` opens more than `limit` arrays or objects inside one another (strings skipped). */
export function nestsDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

/** The dotted path of the first string (value or key) holding U+0000 (PostgreSQL text cannot store it), or undefined. */
export function fieldWithNul(value: unknown): string | undefined {
  const pending: Array<[unknown, string]> = [[value, '']];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [node, path] = next;
    if (typeof node === 'string' && node.includes('\u0000')) return path;
    if (typeof node !== 'object' || node === null) continue;
    for (const [key, child] of Object.entries(node)) {
      const childPath = path === '' ? key : `${path}.${key}`;
      if (key.includes('\u0000')) return childPath;
      pending.push([child, childPath]);
    }
  }
  return undefined;
}
