/**
 * Agent ID path templates: a deliberately small syntax instead of Go's text/template. A template
 * is an absolute path whose segments mix literal characters ([A-Za-z0-9._-]) and `{{ variable }}`
 * placeholders, e.g. `/{{plugin_name}}/{{cluster}}/{{node_uid}}` or `/{{plugin_name}}/k8s-{{cluster}}/{{node_name}}`.
 * No functions, no conditionals: nothing can turn a value into "..", a "/" or an empty segment
 * unnoticed, and every rendered segment is validated again at attestation time.
 */
import { AttestorError } from '../errors.js';
import { quote } from './internal/text.js';
import { pathSegmentProblem } from './spiffe-id.js';

export const TEMPLATE_VARIABLES = [
  'plugin_name',
  'cluster',
  'node_name',
  'node_uid',
  'fingerprint',
  'serial',
] as const;
export type TemplateVariable = (typeof TEMPLATE_VARIABLES)[number];

export const DEFAULT_AGENT_PATH_TEMPLATE = '/{{plugin_name}}/{{cluster}}/{{node_name}}';

type Part = { readonly literal: string } | { readonly variable: TemplateVariable };

export interface AgentPathTemplate {
  readonly text: string;
  /** Variables the template uses; a plugin can refuse {{node_uid}} when it has no Node lookups. */
  readonly variables: ReadonlySet<TemplateVariable>;
  readonly segments: readonly (readonly Part[])[];
}

export type TemplateValues = Readonly<Record<Exclude<TemplateVariable, 'node_uid'>, string>> & {
  readonly node_uid?: string | undefined;
};

const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_]*)\s*\}\}/g;

/**
 * Parses and validates a template at configure time (ERR_CONFIG naming the problem). SPIRE only
 * accepts agent IDs under /spire/agent/<plugin name>/, so the first segment must be
 * {{plugin_name}} or the plugin name itself, and at least one segment must follow it.
 */
export function parseAgentPathTemplate(text: string, pluginName: string): AgentPathTemplate {
  const fail = (problem: string): AttestorError =>
    new AttestorError('ERR_CONFIG', `agent path template ${quote(text)} is invalid: ${problem}`, {
      details: { key: 'agent_path_template' },
    });
  if (!text.startsWith('/')) throw fail('it must start with "/"');
  const variables = new Set<TemplateVariable>();
  const segments = text
    .slice(1)
    .split('/')
    .map((segment, index): Part[] => {
      if (segment.length === 0) throw fail(`segment ${index + 1} is empty (a "//" or a trailing "/")`);
      const parts: Part[] = [];
      let last = 0;
      for (const match of segment.matchAll(PLACEHOLDER)) {
        if (match.index > last) parts.push(literal(segment.slice(last, match.index)));
        const name = match[1] ?? '';
        if (!isVariable(name))
          throw fail(
            `unknown variable {{${name}}}; known are ${TEMPLATE_VARIABLES.map((v) => `{{${v}}}`).join(', ')}`,
          );
        variables.add(name);
        parts.push({ variable: name });
        last = match.index + match[0].length;
      }
      if (last < segment.length) parts.push(literal(segment.slice(last)));
      return parts;

      function literal(value: string): Part {
        if (value.includes('{') || value.includes('}'))
          throw fail(`stray brace in segment ${quote(segment)}`);
        if (!/^[A-Za-z0-9._-]+$/.test(value))
          throw fail(`segment ${quote(segment)} has characters outside [A-Za-z0-9._-]`);
        return { literal: value };
      }
    });
  for (const parts of segments) {
    const only = parts.length === 1 ? parts[0] : undefined;
    if (only !== undefined && 'literal' in only && (only.literal === '.' || only.literal === '..'))
      throw fail(`a segment may not be "${only.literal}"`);
  }
  const [first] = segments;
  const firstIsPlugin =
    first?.length === 1 &&
    first[0] !== undefined &&
    ('variable' in first[0] ? first[0].variable === 'plugin_name' : first[0].literal === pluginName);
  if (!firstIsPlugin)
    throw fail(
      `it must start with /{{plugin_name}}/: SPIRE accepts agent IDs only under /spire/agent/${pluginName}/`,
    );
  if (segments.length < 2) throw fail('it needs at least one segment after the plugin name');
  return { text, variables, segments };
}

function isVariable(name: string): name is TemplateVariable {
  return (TEMPLATE_VARIABLES as readonly string[]).includes(name);
}

/**
 * Renders the path (without /spire/agent). A {{node_uid}} with no UID is ERR_CONFIG (the template
 * needs Node lookups the plugin does not do); an invalid rendered segment is ERR_INTERNAL, since
 * every input is validated before it gets here.
 */
export function renderAgentPath(template: AgentPathTemplate, values: TemplateValues): string {
  const rendered = template.segments.map((parts) =>
    parts
      .map((part) => {
        if ('literal' in part) return part.literal;
        const value = values[part.variable];
        if (value === undefined)
          throw new AttestorError(
            'ERR_CONFIG',
            `agent path template ${quote(template.text)} uses {{${part.variable}}}, which is not available (Node lookups are needed for it)`,
          );
        return value;
      })
      .join(''),
  );
  for (const segment of rendered) {
    const problem = pathSegmentProblem(segment);
    if (problem !== undefined)
      throw new AttestorError(
        'ERR_INTERNAL',
        `agent path template ${quote(template.text)} rendered the segment ${quote(segment)}, which is not a valid SPIFFE ID path segment: it ${problem}`,
      );
  }
  return `/${rendered.join('/')}`;
}
