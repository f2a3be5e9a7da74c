/** `node-attestor approver --help`, rendered from the flag table the parser uses. */
import { EXIT } from '../kit/exit-codes.js';
import { FLAG_SYNTAX_HELP, flagHelp, wrap } from '../kit/flag-kit.js';
import { APPROVER_FLAGS } from './options.js';

export function approverHelpText(): string {
  const out: string[] = [
    'Usage: node-attestor approver -allow-requester <user> [flags]',
    '',
    wrap(
      'Approves node client CSRs (signer kubernetes.io/kube-apiserver-client-kubelet) only when the node ' +
        "named in the CN is the node the requester's service-account token is bound to: the API server " +
        'records it in spec.extra (authentication.kubernetes.io/node-name, node-uid; or pod-name and pod-uid, ' +
        'then the Pod is read), and the CSR asks for a lifetime (spec.expirationSeconds) of at most ' +
        '-max-expiration. Everything else from an allow-listed requester is denied with a reason; ' +
        "other requesters' CSRs are left alone. One replica acts at a time (a Lease).",
      '',
    ),
    '',
    wrap(FLAG_SYNTAX_HELP, ''),
  ];
  out.push(...flagHelp(APPROVER_FLAGS));
  out.push(
    '',
    'Endpoints on -http-address: /healthz, /readyz (the CSR cache has synced), /metrics (Prometheus).',
    '',
    'Exit codes:',
    `  ${EXIT.OK} stopped by SIGTERM/SIGINT (the Lease released)   ${EXIT.USAGE} bad flags or flag values`,
    `  ${EXIT.INPUT} unreadable kubeconfig, token or CA file          ${EXIT.AUTH} the API server refused the credentials or RBAC`,
    `  ${EXIT.IO} cannot listen on -http-address                  ${EXIT.INTERNAL} internal error`,
    '',
    'Example (in a pod; see k8s-configs/approver/):',
    '  node-attestor approver -in-cluster -allow-requester system:serviceaccount:spire:spire-agent',
    '',
    'Docs: docs/approver.md.',
    '',
  );
  return out.join('\n');
}
