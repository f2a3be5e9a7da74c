/**
 * A typed reader over parsed plugin configuration. A plugin reads each key it knows with the
 * method for its type and calls done() last: any key it did not read is an error naming the
 * key and where it is, so a typo (`ca_bundle_pth`) fails Configure instead of being ignored.
 * Every failure is AttestorError ERR_CONFIG, which the plugin layer returns as InvalidArgument.
 */
import { AttestorError } from '../../errors.js';
import { formatGoDuration, parseGoDuration } from '../../util/duration.js';
import { formatKeyPath, parseConfigText, type HclObject, type HclValue } from './hcl.js';

export interface IntBounds {
  readonly min?: number;
  readonly max?: number;
}

/** Bounds in milliseconds. */
export interface DurationBounds {
  readonly min?: number;
  readonly max?: number;
}

/** A key as it appears in a path: bare when it is an identifier, quoted otherwise. */
function renderKey(key: string): string {
  return formatKeyPath([key]);
}

function typeName(v: HclValue): string {
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  return `${typeof v === 'number' ? 'the number' : 'the boolean'} ${String(v)}`;
}

export class ConfigReader {
  private readonly consumed = new Set<string>();
  private readonly children: ConfigReader[] = [];

  /**
   * @param path where this object sits, as rendered segments (see renderKey; map entry names
   *   are always quoted, e.g. clusters."a"), for messages.
   */
  constructor(
    private readonly obj: HclObject,
    private readonly path: readonly string[] = [],
  ) {}

  /** Parses configuration text (HCL v1 or JSON) into a reader for its top level. */
  static parse(text: string): ConfigReader {
    return new ConfigReader(parseConfigText(text));
  }

  private where(key?: string): string {
    return (key === undefined ? this.path : this.path.concat(renderKey(key))).join('.');
  }

  private failAt(at: string, message: string): never {
    throw new AttestorError('ERR_CONFIG', `invalid plugin configuration: ${at}: ${message}`, {
      details: { key: at },
    });
  }

  private fail(key: string, message: string): never {
    return this.failAt(this.where(key), message);
  }

  private get(key: string): HclValue | undefined {
    this.consumed.add(key);
    return Object.hasOwn(this.obj, key) ? this.obj[key] : undefined;
  }

  private missing(key: string): never {
    const inner = this.path.length === 0 ? '' : ` in ${this.where()}`;
    throw new AttestorError(
      'ERR_CONFIG',
      `invalid plugin configuration: missing required key "${key}"${inner}`,
      {
        details: { key: this.where(key) },
      },
    );
  }

  /** True when the key is present (does not consume it). */
  has(key: string): boolean {
    return Object.hasOwn(this.obj, key);
  }

  /** The keys present, in document order (does not consume them). */
  keys(): readonly string[] {
    return Object.keys(this.obj);
  }

  optionalString(key: string): string | undefined {
    const v = this.get(key);
    if (v === undefined) return undefined;
    if (typeof v !== 'string') this.fail(key, `expected a string, got ${typeName(v)}`);
    return v;
  }

  requiredString(key: string): string {
    const v = this.optionalString(key);
    if (v === undefined) this.missing(key);
    if (v === '') this.fail(key, 'must not be empty');
    return v;
  }

  optionalInt(key: string, bounds: IntBounds = {}): number | undefined {
    const v = this.get(key);
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isSafeInteger(v))
      this.fail(key, `expected an integer, got ${typeName(v)}`);
    if (bounds.min !== undefined && v < bounds.min)
      this.fail(key, `must be at least ${bounds.min}, got ${v}`);
    if (bounds.max !== undefined && v > bounds.max) this.fail(key, `must be at most ${bounds.max}, got ${v}`);
    return v;
  }

  requiredInt(key: string, bounds: IntBounds = {}): number {
    const v = this.optionalInt(key, bounds);
    if (v === undefined) this.missing(key);
    return v;
  }

  optionalBool(key: string): boolean | undefined {
    const v = this.get(key);
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean') this.fail(key, `expected true or false, got ${typeName(v)}`);
    return v;
  }

  requiredBool(key: string): boolean {
    const v = this.optionalBool(key);
    if (v === undefined) this.missing(key);
    return v;
  }

  /** A Go-style duration string ("90s", "10m", "1h30m"), returned in milliseconds. */
  optionalDuration(key: string, bounds: DurationBounds = {}): number | undefined {
    const v = this.get(key);
    if (v === undefined) return undefined;
    const ms = typeof v === 'string' ? parseGoDuration(v) : undefined;
    if (ms === undefined) {
      this.fail(key, `expected a duration string such as "90s", "10m" or "1h30m", got ${typeName(v)}`);
    }
    const min = bounds.min ?? 0;
    if (ms < min) this.fail(key, `must be at least ${formatGoDuration(min)}, got ${JSON.stringify(v)}`);
    if (bounds.max !== undefined && ms > bounds.max) {
      this.fail(key, `must be at most ${formatGoDuration(bounds.max)}, got ${JSON.stringify(v)}`);
    }
    return ms;
  }

  requiredDuration(key: string, bounds: DurationBounds = {}): number {
    const v = this.optionalDuration(key, bounds);
    if (v === undefined) this.missing(key);
    return v;
  }

  /** A list of strings; absent gives undefined. A single string is not accepted as a list. */
  optionalStringList(key: string): readonly string[] | undefined {
    const v = this.get(key);
    if (v === undefined) return undefined;
    if (!Array.isArray(v)) this.fail(key, `expected a list of strings, got ${typeName(v)}`);
    const list: readonly HclValue[] = v;
    return list.map((e, i) => {
      if (typeof e !== 'string')
        this.failAt(`${this.where(key)}[${i}]`, `expected a string, got ${typeName(e)}`);
      return e;
    });
  }

  requiredStringList(key: string): readonly string[] {
    const v = this.optionalStringList(key);
    if (v === undefined) this.missing(key);
    return v;
  }

  /** A nested object (`key { ... }` or `key = { ... }`), as a reader; undefined when absent. */
  optionalObject(key: string): ConfigReader | undefined {
    const v = this.get(key);
    if (v === undefined) return undefined;
    if (typeof v !== 'object' || Array.isArray(v))
      this.fail(key, `expected a block { ... }, got ${typeName(v)}`);
    const child = new ConfigReader(v as HclObject, this.path.concat(renderKey(key)));
    this.children.push(child);
    return child;
  }

  /**
   * A map of named sub-objects: `key "name" { ... }` blocks (or `key = { name = { ... } }`), as
   * readers by name in document order; absent gives an empty map.
   */
  objectMap(key: string): ReadonlyMap<string, ConfigReader> {
    const outer = this.optionalObject(key);
    const out = new Map<string, ConfigReader>();
    if (outer === undefined) return out;
    for (const name of outer.keys()) {
      const v = outer.get(name);
      const entryPath = this.path.concat(renderKey(key), JSON.stringify(name));
      if (v === undefined || typeof v !== 'object' || Array.isArray(v)) {
        const got = v === undefined ? 'nothing' : typeName(v);
        this.failAt(entryPath.join('.'), `expected a block { ... }, got ${got}`);
      }
      const child = new ConfigReader(v as HclObject, entryPath);
      outer.children.push(child);
      out.set(name, child);
    }
    return out;
  }

  /** Throws for the first key (here or in any object read through this reader) nobody read. */
  done(): void {
    for (const key of Object.keys(this.obj)) {
      if (this.consumed.has(key)) continue;
      const known = [...this.consumed].sort();
      const inner = this.path.length === 0 ? '' : ` in ${this.where()}`;
      const hint = known.length === 0 ? '' : `; known keys: ${known.join(', ')}`;
      throw new AttestorError(
        'ERR_CONFIG',
        `invalid plugin configuration: unknown key "${key}"${inner}${hint}`,
        {
          details: { key: this.where(key) },
        },
      );
    }
    for (const child of this.children) child.done();
  }
}
