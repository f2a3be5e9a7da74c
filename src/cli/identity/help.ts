/** --help text, rendered from the same flag table the parser uses. */
import { EXIT } from '../kit/exit-codes.js';
import { FLAG_SYNTAX_HELP, flagHelp, wrap } from '../kit/flag-kit.js';
import { FLAGS } from './options.js';

export function helpText(): string {
  const out: string[] = [
    'Usage: node-attestor [flags]',
    '       node-attestor approver [flags]   the node-bound CSR approver (node-attestor approver -help)',
    '',
    wrap(
      "Obtains this node's SPIRE identity document: a Kubernetes node client certificate " +
        '(O=system:nodes, CN=system:node:<agent-name>) signed by the cluster CA through the ' +
        'CertificateSigningRequest API. It creates the CSR, waits until it is approved (automatically ' +
        'through RBAC, or by an admin with kubectl certificate approve) and signed, checks the certificate, ' +
        'and writes id-doc.key and id-doc.crt. A fresh identity already on disk is reused.',
      '',
    ),
    '',
    wrap(FLAG_SYNTAX_HELP, ''),
  ];
  out.push(...flagHelp(FLAGS));
  out.push(
    '',
    'Exit codes:',
    `  ${EXIT.OK} identity written or reused     ${EXIT.USAGE} bad flags or flag values       ${EXIT.INPUT} unreadable or malformed input file`,
    `  ${EXIT.AUTH} credentials failed or refused  ${EXIT.UNREACHABLE} API server unreachable/untrusted ${EXIT.DENIED} CSR denied`,
    `  ${EXIT.FAILED} CSR failed/deleted/bad cert     ${EXIT.TIMEOUT} approval timed out             ${EXIT.IO} identity dir unwritable or unsafe`,
    `  ${EXIT.INTERNAL} internal error                 ${EXIT.INTERRUPTED} interrupted`,
    '',
    'Example (the 2018 tutorial, on minikube):',
    '  node-attestor -ca-cert ~/.minikube/apiserver.crt \\',
    '    -client-cert keys/node-attestor/spire-agent.crt -client-key keys/node-attestor/spire-agent.key',
    '',
    'Docs: docs/cli.md (every flag, exit codes, troubleshooting) and docs/tutorial.md.',
    '',
  );
  return out.join('\n');
}
