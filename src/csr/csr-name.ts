/** The CertificateSigningRequest object name: the API server completes it, so runs never collide. */

const PREFIX = 'node-csr-';
/** metadata.generateName gets 5 random characters appended by the API server. */
const SERVER_SUFFIX = 5;
const MAX_LABEL = 63;
const ROOM = MAX_LABEL - SERVER_SUFFIX - PREFIX.length - 1;

/**
 * `node-csr-<first DNS label of the node name>-`, the label cut so the final name is one DNS
 * label (at most 63 characters): readable in `kubectl get csr`, unique per request.
 */
export function csrGenerateName(nodeName: string): string {
  const label = (nodeName.split('.')[0] ?? '').slice(0, ROOM).replace(/-+$/, '');
  return label === '' ? PREFIX : `${PREFIX}${label}-`;
}
