/**
 * Waiting by polling (wait mode `poll`): GET the CSR by name until it is signed, denied, failed
 * or gone. Needs only `get` on CSRs besides `create`, so the bootstrap role can leave out
 * `watch` (which RBAC cannot limit to one CSR). The steps start at 100 ms and double to 2 s,
 * jittered so nodes started together do not poll in step; an approval costs at most one step
 * more than with a watch. Errors are retried as on the watch path (network, 429, 5xx).
 */
import { Backoff } from '../util/backoff.js';
import { isAttestorError } from '../errors.js';
import type { CsrObject } from './csr-api.js';
import { readCsr, type CertificateResult, type WaitSession } from './wait-session.js';

export interface PollTuning {
  readonly initialMs: number;
  readonly maxMs: number;
  /** For tests: the jitter's random source. */
  readonly random?: () => number;
}

export async function pollForCertificate(s: WaitSession, t: PollTuning): Promise<CertificateResult> {
  const steps = new Backoff(t.initialMs, t.maxMs, t.random);
  for (;;) {
    if (s.isStopped()) throw s.stopped();
    let csr: CsrObject;
    try {
      csr = await readCsr(s);
    } catch (err) {
      if (isAttestorError(err, 'ERR_CSR_DELETED')) throw err;
      await s.retryAfter(err);
      continue;
    }
    const done = s.evaluate(csr);
    if (done !== undefined) return done;
    s.recovered();
    await s.sleep(steps.next());
  }
}
