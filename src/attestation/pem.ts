/**
 * Strict PEM certificate-chain reading for the agent's identity chain and the server's CA
 * bundles: only CERTIFICATE blocks, nothing but whitespace between them, canonical base64. The
 * identity document is ours, so anything else (a private key pasted in, a truncated file) is
 * reported rather than skipped. The reading is src/x509/pem.ts's; the wording is ours.
 */
import { AttestorError } from '../errors.js';
import {
  decodeStrictPemCertificates,
  sizeProblemText,
  type PemInput,
  type StrictChainProblem,
} from '../x509/pem.js';
import { quote } from './internal/text.js';

/** The DER of each CERTIFICATE block, in order; `what` names the input in ERR_INPUT messages. */
export function parsePemCertificates(pem: PemInput, what: string): Buffer[] {
  const r = decodeStrictPemCertificates(pem);
  if (!r.ok) throw new AttestorError('ERR_INPUT', `${what} ${problemText(r.problem)}`);
  return r.value;
}

function problemText(p: StrictChainProblem): string {
  switch (p.kind) {
    case 'text-before':
      return `has text outside PEM blocks before block ${p.block}`;
    case 'text-after':
      return 'has text after the last PEM block';
    case 'mismatched-end':
      return `block ${p.block} begins ${quote(p.begin)} but ends ${quote(p.end)}`;
    case 'not-certificate':
      return `block ${p.block} is ${quote(p.label)}; only CERTIFICATE blocks are allowed`;
    case 'bad-base64':
      return `block ${p.block} is not valid base64`;
    case 'no-certificate':
      return 'has no PEM CERTIFICATE block';
    case 'too-large':
    case 'certificate-too-large':
      return sizeProblemText(p);
  }
}
