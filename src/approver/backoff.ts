/** The approver's backoff is the shared one (src/util/backoff.ts). */
export { Backoff } from '../util/backoff.js';
