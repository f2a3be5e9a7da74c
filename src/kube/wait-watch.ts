/**
 * Waiting by watch (wait mode `watch`): a watch on the one CSR from the create resourceVersion,
 * so an approval that landed before the watch connected is replayed, not missed.
 *
 * - a watch that ends (server timeout, proxy) is resumed from the last resourceVersion seen;
 * - `410 Gone` (too old) re-reads the CSR, evaluates it (it may be done), and re-watches from it;
 * - a watch refused with 403 is not an error here: it is reported back, so the caller can wait
 *   by polling instead (the narrow role grants no watch).
 */
import { AttestorError } from '../errors.js';
import { oneLine } from './kube-errors.js';
import { deletedError, readCsr, type CertificateResult, type WaitSession } from './wait-session.js';
import { watchCsr } from './watch.js';

export interface WatchTuning {
  /** Longest single watch (server-side timeoutSeconds). */
  readonly maxWatchSeconds: number;
  /** A watch that ends sooner than this without any event counts as "ended immediately". */
  readonly quickEndMs: number;
}

/** The watch was refused (HTTP 403): the credential may not watch CSRs. */
export interface WatchForbidden {
  readonly forbidden: AttestorError;
}

const isGone = (err: unknown): boolean =>
  err instanceof AttestorError && err.code === 'ERR_KUBE_API' && err.details.status === 410;

export async function watchForCertificate(
  s: WaitSession,
  fromResourceVersion: string,
  t: WatchTuning,
): Promise<CertificateResult | WatchForbidden> {
  const { name, logger } = s;
  let rv = fromResourceVersion;
  let resync = false;
  for (;;) {
    if (s.isStopped()) throw s.stopped();
    try {
      if (resync) {
        const csr = await readCsr(s);
        const done = s.evaluate(csr);
        if (done !== undefined) return done;
        rv = csr.metadata.resourceVersion;
        resync = false;
        logger.debug('re-read the CSR after 410 Gone', { resourceVersion: rv });
      }

      const watchStarted = s.now();
      let events = 0;
      const timeoutSeconds = Math.min(
        t.maxWatchSeconds,
        Math.max(1, Math.ceil((s.deadline - s.now()) / 1000)),
      );
      logger.debug('watching', { resourceVersion: rv, timeoutSeconds });
      try {
        stream: for await (const ev of watchCsr(s.kube, name, rv, { timeoutSeconds, signal: s.signal })) {
          events++;
          switch (ev.type) {
            case 'ADDED':
            case 'MODIFIED': {
              // The field selector should make this impossible; never act on another CSR.
              if (ev.csr.metadata.name !== name) continue;
              rv = ev.csr.metadata.resourceVersion;
              const done = s.evaluate(ev.csr);
              if (done !== undefined) return done;
              s.recovered();
              break;
            }
            case 'BOOKMARK':
              rv = ev.resourceVersion;
              break;
            case 'DELETED':
              if (ev.csr.metadata.name !== name) continue;
              throw deletedError(name);
            case 'ERROR': {
              const st = ev.status;
              if (st.code === 410 || st.reason === 'Expired' || st.reason === 'Gone') {
                logger.debug('watch resourceVersion too old (410); re-reading', { resourceVersion: rv });
                resync = true;
                break stream;
              }
              throw new AttestorError(
                'ERR_KUBE_API',
                `watch of CSR ${name} failed: ${st.code ?? '?'} ${oneLine([st.reason, st.message].filter((x) => x !== undefined && x !== '').join(': '))}`.trim(),
                { details: { csrName: name, ...(st.code === undefined ? {} : { status: st.code }) } },
              );
            }
          }
        }
      } catch (err) {
        if (err instanceof AttestorError && err.code === 'ERR_KUBE_FORBIDDEN' && !s.isStopped())
          return { forbidden: err };
        throw err;
      }
      if (resync) continue;
      // The stream ended (timeoutSeconds, a proxy, a restart): resume from where we were.
      if (events === 0 && s.now() - watchStarted < t.quickEndMs) {
        logger.debug('watch ended immediately; backing off');
        await s.backOff();
      } else {
        s.recovered();
      }
    } catch (err) {
      if (isGone(err)) {
        if (s.isStopped()) throw s.stopped();
        resync = true;
        continue;
      }
      await s.retryAfter(err);
    }
  }
}
