/** `node-attestor signer --help`, rendered from the flag table the parser uses. */
import { EXIT } from '../kit/exit-codes.js';
import { FLAG_SYNTAX_HELP, flagHelp, wrap } from '../kit/flag-kit.js';
import { SIGNER_FLAGS } from './options.js';

export function signerHelpText(): string {
  const out: string[] = [
    'Usage: node-attestor signer -allow-service-account <namespace:name> (-ca-cert-file <path> -ca-key-file <path> | -ca-secret <namespace/name>) [flags]',
    '',
    wrap(
      'Issues certificates for PodCertificateRequests (certificates.k8s.io/v1) of one signer name: the ' +
        'kubelet asks for a pod of its node, and the API server lets only that node ask, for a pod bound to it. ' +
        'Pods of allow-listed service accounts get a certificate that names the node (name, UID), the pod ' +
        '(namespace, name, UID) and the service account, for the k8s_pod_cert SPIRE attestor; every other ' +
        'request is denied with a reason. One replica acts at a time (a Lease).',
      '',
    ),
    '',
    wrap(FLAG_SYNTAX_HELP, ''),
  ];
  out.push(...flagHelp(SIGNER_FLAGS));
  out.push(
    '',
    'Endpoints on -http-address: /healthz, /readyz (the request cache has synced), /metrics (Prometheus).',
    '',
    'Exit codes:',
    `  ${EXIT.OK} stopped by SIGTERM/SIGINT (the Lease released)   ${EXIT.USAGE} bad flags or flag values`,
    `  ${EXIT.INPUT} unreadable kubeconfig, token, CA file or Secret  ${EXIT.AUTH} the API server refused the credentials or RBAC`,
    `  ${EXIT.IO} cannot listen on -http-address                  ${EXIT.INTERNAL} internal error`,
    '',
    'Example (in a pod; see k8s-configs/signer/):',
    '  node-attestor signer -in-cluster -allow-service-account spire:spire-agent -ca-secret spire/node-attestor-signer-ca',
    '',
    'Docs: docs/pod-certificates.md.',
    '',
  );
  return out.join('\n');
}
