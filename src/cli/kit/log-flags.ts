/** The logging flags every command takes (-log-format, -log-level), defined once. */
import { LOG_LEVELS, type LogLevel } from '../../log/logger.js';
import { oneOf, type FlagSpec, type ParsedFlags } from './flag-kit.js';

export interface LogFlags {
  readonly logFormat: 'text' | 'json';
  readonly logLevel: LogLevel;
}

export function logFlagSpecs(): FlagSpec<'Output'>[] {
  return [
    {
      name: 'log-format',
      type: 'string',
      arg: 'format',
      group: 'Output',
      help: 'log format on stderr: text or json',
      shownDefault: 'text',
    },
    {
      name: 'log-level',
      type: 'string',
      arg: 'level',
      group: 'Output',
      help: `log level: ${LOG_LEVELS.join(', ')}`,
      shownDefault: 'info',
    },
  ];
}

export function logFlagsFrom(f: ParsedFlags): LogFlags {
  return {
    logFormat: oneOf(f.string('log-format'), 'log-format', ['text', 'json'] as const, 'text'),
    logLevel: oneOf(f.string('log-level'), 'log-level', LOG_LEVELS, 'info'),
  };
}
