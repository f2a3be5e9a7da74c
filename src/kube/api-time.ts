/** The API's metav1.Time: RFC 3339 in whole seconds (conditions, Events, status times). */
export const apiTime = (d: Date): string => d.toISOString().replace(/\.\d+Z$/, 'Z');
