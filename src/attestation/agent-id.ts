/**
 * The agent's SPIFFE ID: spiffe://<trust domain>/spire/agent/<rendered template>, by default
 * spiffe://<td>/spire/agent/<plugin name>/<cluster>/<node name>.
 */
import { AttestorError } from '../errors.js';
import { renderAgentPath, type AgentPathTemplate, type TemplateValues } from './agent-path-template.js';
import { quote } from './internal/text.js';
import { trustDomainProblem } from './spiffe-id.js';

export interface AgentIdInput {
  readonly trustDomain: string;
  readonly template: AgentPathTemplate;
  readonly values: TemplateValues;
}

export function agentId(input: AgentIdInput): string {
  const problem = trustDomainProblem(input.trustDomain);
  if (problem !== undefined)
    throw new AttestorError(
      'ERR_CONFIG',
      `trust domain ${quote(input.trustDomain)} is invalid: it ${problem}`,
    );
  return `spiffe://${input.trustDomain}/spire/agent${renderAgentPath(input.template, input.values)}`;
}
