/** A request the API refuses (HTTP 400): the message says what is wrong and what is allowed. */
export class BadRequestError extends Error {
  override readonly name = 'BadRequestError';
  readonly statusCode = 400;
}

/** A request value quoted in an error message: JSON-escaped and cut, so a hostile value stays harmless. */
export function quote(value: unknown, max = 60): string {
  const s = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  const cut = s.length > max ? `${s.slice(0, max)}…` : s;
  return JSON.stringify(cut);
}
