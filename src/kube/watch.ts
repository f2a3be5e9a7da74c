/**
 * A watch on exactly one CSR (fieldSelector metadata.name=<name>), so only that CSR's events
 * arrive, starting at a resourceVersion so changes made before the watch connected are replayed
 * rather than missed. The selector is the client's choice, not an RBAC limit: a role that grants
 * this watch lets the credential watch every CSR (docs/security.md; wait mode poll needs none).
 */
import { AttestorError } from '../errors.js';
import { CSR_API_PATH, parseCsrObject, type CsrObject } from './csr-api.js';
import type { KubeClient } from './http.js';
import { parseStatus, type KubeStatus } from './kube-errors.js';

export type CsrWatchEvent =
  | { readonly type: 'ADDED' | 'MODIFIED' | 'DELETED'; readonly csr: CsrObject }
  /** A progress marker: nothing changed up to `resourceVersion`. */
  | { readonly type: 'BOOKMARK'; readonly resourceVersion: string }
  /** e.g. 410 Gone (resourceVersion too old: re-get and re-watch). */
  | { readonly type: 'ERROR'; readonly status: KubeStatus };

export interface WatchCsrOptions {
  /** Server-side end of the stream; the server closes it cleanly after this many seconds. */
  readonly timeoutSeconds: number;
  readonly signal?: AbortSignal;
}

export async function* watchCsr(
  kube: KubeClient,
  name: string,
  resourceVersion: string,
  opts: WatchCsrOptions,
): AsyncGenerator<CsrWatchEvent, void, undefined> {
  const query: Record<string, string> = {
    fieldSelector: `metadata.name=${name}`,
    ...(resourceVersion === '' ? {} : { resourceVersion }),
    allowWatchBookmarks: 'true',
    timeoutSeconds: String(Math.max(1, Math.floor(opts.timeoutSeconds))),
  };
  for await (const ev of kube.watch(CSR_API_PATH, query, opts.signal)) {
    switch (ev.type) {
      case 'ADDED':
      case 'MODIFIED':
      case 'DELETED':
        yield { type: ev.type, csr: parseCsrObject(ev.object) };
        break;
      case 'BOOKMARK': {
        const md = ev.object.metadata;
        const rv =
          typeof md === 'object' && md !== null ? (md as Record<string, unknown>).resourceVersion : undefined;
        if (typeof rv !== 'string' || rv === '')
          throw new AttestorError(
            'ERR_KUBE_API',
            'malformed watch BOOKMARK event: no metadata.resourceVersion',
          );
        yield { type: 'BOOKMARK', resourceVersion: rv };
        break;
      }
      case 'ERROR':
        yield { type: 'ERROR', status: parseStatus(ev.object) ?? {} };
        break;
      default:
        throw new AttestorError('ERR_KUBE_API', `unexpected watch event type ${JSON.stringify(ev.type)}`);
    }
  }
}
