/** Quotes an untrusted string for an error message: JSON escaping stops log injection, the cap stops floods. */
export function quote(value: string, max = 100): string {
  return value.length > max ? `${JSON.stringify(value.slice(0, max))}…` : JSON.stringify(value);
}
