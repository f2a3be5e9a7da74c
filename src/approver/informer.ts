/**
 * The approver's cache of node-client CSRs: the shared list-then-watch informer
 * (../controller/list-watch.ts) over certificatesigningrequests with spec.signerName=<signer>.
 */
import { CSR_API_PATH, parseCsrObject, type CsrObject } from '../kube/csr-api.js';
import type { KubeClient } from '../kube/http.js';
import {
  ListWatchInformer,
  type InformerHandlers as EntryHandlers,
  type InformerOptions as ListWatchOptions,
} from '../controller/list-watch.js';

export interface CsrEntry {
  readonly csr: CsrObject;
  /** The object as the API server sent it: the /approval PUT sends it back whole. */
  readonly raw: Record<string, unknown>;
}

export interface InformerHandlers extends Omit<EntryHandlers<CsrEntry>, 'onDelete'> {
  readonly onDelete: (csr: CsrObject) => void;
}

export interface InformerOptions extends Omit<ListWatchOptions, 'fieldSelector'> {
  readonly signerName: string;
}

export class CsrInformer extends ListWatchInformer<CsrEntry> {
  constructor(kube: KubeClient, handlers: InformerHandlers, opts: InformerOptions) {
    const { signerName, ...rest } = opts;
    super(
      kube,
      {
        path: CSR_API_PATH,
        listKind: 'CertificateSigningRequestList',
        noun: 'CSR',
        parse: (raw) => ({ csr: parseCsrObject(raw), raw }),
        key: (e) => e.csr.metadata.name,
      },
      {
        ...handlers,
        onDelete: (e) => {
          handlers.onDelete(e.csr);
        },
      },
      { ...rest, fieldSelector: `spec.signerName=${signerName}` },
    );
  }
}
