/**
 * The properties of `o` whose value is not undefined. With exactOptionalPropertyTypes an
 * optional property may be absent but not undefined, so option objects built from parsed input
 * (flags, plugin configuration) go through this rather than a spread per property.
 */
export function definedOnly<T extends object>(o: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]?: Exclude<T[K], undefined>;
  };
}
