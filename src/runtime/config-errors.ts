/**
 * Configuration problems as `FILE:LINE:COLUMN: field.path: what is wrong`.
 *
 * The configs are checked by zod schemas (the lab file in topology.ts, the
 * blocks it holds in netfilter/, services/uplink/, services/dns/, device/).
 * A zod issue names a path (["nodes", "r1", "interfaces", "eth0", "address"]);
 * the YAML document still has the node at that path, with its source range,
 * so the path becomes a line and column here. Only the runtime knows files,
 * so this is the one place that turns issues into lines.
 */
import { isMap, isPair, isScalar, isSeq, type Document, type LineCounter, type Node as YamlNode } from 'yaml';
import { z } from 'zod';

export interface SourcePosition {
  readonly line: number;
  readonly column: number;
}

export interface ConfigProblem extends SourcePosition {
  /** The field, as a dotted path: "nodes.r1.interfaces.eth0.address". */
  readonly field: string;
  readonly message: string;
}

export function formatProblem(file: string, p: ConfigProblem): string {
  return `${file}:${p.line}:${p.column}: ${p.field ? `${p.field}: ` : ''}${p.message}`;
}

export type ConfigPath = readonly PropertyKey[];

/**
 * Extra data a refinement can put in a custom issue's `params`:
 * `anchor: 'key'` points at the key that names the field rather than at its
 * value ("not connected" is about the interface, not its settings).
 */
export interface IssueParams {
  readonly anchor?: 'key' | 'value';
}

/**
 * Messages for zod's own issues, in the words the lab files used before
 * schemas ("expected a list", "missing"). A schema's own `error` wins.
 */
export const configErrorMap: z.core.$ZodErrorMap = (issue) => {
  if (issue.code === 'invalid_type' && issue.input === undefined) return 'missing';
  switch (issue.code) {
    case 'invalid_type':
      return (
        {
          object: 'expected a mapping (key: value lines)',
          record: 'expected a mapping (key: value lines)',
          array: 'expected a list',
          string: 'expected text',
          number: 'expected a number',
          boolean: 'expected true or false',
        } as Record<string, string>
      )[issue.expected] ?? `expected ${issue.expected}`;
    case 'unrecognized_keys':
      return 'unknown field';
    case 'invalid_value':
      return `${JSON.stringify(issue.input)}: expected ${issue.values.map((v) => String(v)).join(', ')}`;
    default:
      return undefined;
  }
};

/** A strict mapping whose unknown keys are reported as "unknown field (expected one of: ...)". */
export function fields<T extends z.core.$ZodLooseShape>(shape: T, what = 'unknown field'): z.ZodObject<T, z.core.$strict> {
  const expected = `${what} (expected one of: ${Object.keys(shape).join(', ')})`;
  return z.strictObject(shape, { error: (issue) => (issue.code === 'unrecognized_keys' ? expected : undefined) });
}

/** `expected an integer from MIN to MAX, got X` for every way a value can miss. */
export function integer(min: number, max: number): z.ZodNumber {
  const error = (issue: { input?: unknown }): string => `expected an integer from ${min} to ${max}, got ${JSON.stringify(issue.input)}`;
  return z.number({ error }).int({ error }).min(min, { error }).max(max, { error });
}

/** Text, the way YAML gives it: a string, or a number written where text was meant ("name: 123"). */
export const text = z.union([z.string(), z.number().transform(String)], { error: 'expected text' });

/**
 * Wraps the schema of one element of a collection (a node, an interface, a
 * route, a link) so the rest of the file is still checked, cross references
 * included, and every problem is reported in one run. Its problems are
 * reported either way; when one of them leaves the element unusable (a
 * wrong type, a value that did not parse) it becomes `undefined`, and cross
 * references skip it rather than repeat the mistake. Problems that leave it
 * usable (an unknown field, a bad element inside it) do not hide it. `pick`
 * chooses the schema from the raw value when it depends on it (a node's kind).
 */
export function element<T extends z.ZodType>(pick: T | ((raw: unknown) => T)): z.ZodType<z.output<T> | undefined, unknown> {
  return z.unknown().transform((raw, ctx) => {
    const schema = typeof pick === 'function' ? pick(raw) : pick;
    // The schema's own run (zod core's `_zod.run`, what safeParse calls) keeps the value next to the issues.
    const result = schema._zod.run({ value: raw, issues: [] }, {}) as z.core.ParsePayload<z.output<T>>;
    const usable = !result.aborted && result.issues.every((issue) => issue.continue === true);
    // continue: the enclosing object's own checks still run, on the elements that are usable.
    for (const issue of result.issues) ctx.issues.push({ ...issue, continue: true });
    return usable ? result.value : undefined;
  });
}

/** Where things are in a YAML document. */
export class YamlLocator {
  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  /**
   * The position of the value at `path`, or of the key naming it. A path
   * the file does not have (a missing field) points at the key of the
   * mapping it belongs in, where it would be added.
   */
  locate(path: ConfigPath, anchor: 'key' | 'value' = 'value'): SourcePosition {
    let node: unknown = this.doc.contents;
    let key: unknown;
    for (const segment of path) {
      let next: unknown;
      let nextKey: unknown;
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(segment));
        if (pair) [next, nextKey] = [pair.value, pair.key];
      } else if (isSeq(node) && typeof segment !== 'symbol') {
        next = node.items[Number(segment)];
      }
      if (next === undefined && nextKey === undefined) return this.position(key) ?? this.position(node) ?? { line: 1, column: 1 };
      [node, key] = [next, nextKey];
    }
    if (anchor === 'key' && key) return this.position(key) ?? { line: 1, column: 1 };
    return this.position(node) ?? this.position(key) ?? { line: 1, column: 1 };
  }

  private position(node: unknown): SourcePosition | undefined {
    const range = node && typeof node === 'object' && 'range' in node ? (node as YamlNode).range : undefined;
    if (!range) return undefined;
    const pos = this.lines.linePos(range[0]);
    return { line: pos.line, column: pos.col };
  }
}

/**
 * zod issues → problems, in the order of the file. `yamlPath` maps a field's
 * path to where it is written, for the few places where they differ.
 */
export function problemsFromIssues(issues: readonly z.core.$ZodIssue[], locator: YamlLocator, yamlPath: (path: ConfigPath) => ConfigPath = (p) => p): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const add = (path: ConfigPath, message: string, anchor: 'key' | 'value' = 'value'): void => {
    out.push({ ...locator.locate(yamlPath(path), anchor), field: path.map(String).join('.'), message });
  };
  const visit = (issue: z.core.$ZodIssue, prefix: ConfigPath): void => {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) add([...path, key], issue.message, 'key');
    } else if (issue.code === 'invalid_union') {
      // The one form whose type matched says what is wrong inside it; otherwise the union's own message.
      const typeMatched = issue.errors.filter((branch) => !branch.some((i) => i.path.length === 0 && (i.code === 'invalid_type' || i.code === 'invalid_value' || i.code === 'invalid_union')));
      if (typeMatched.length === 1) for (const i of typeMatched[0]!) visit(i, path);
      else add(path, issue.message.startsWith('Invalid input') ? 'not one of the accepted forms' : issue.message);
    } else if (issue.code === 'invalid_key' || issue.code === 'invalid_element') {
      for (const i of issue.issues) add(path, i.message, 'key');
    } else {
      const params = (issue.code === 'custom' ? issue.params : undefined) as IssueParams | undefined;
      add(path, issue.message, params?.anchor);
    }
  };
  for (const issue of issues) visit(issue, []);
  return out.sort((a, b) => a.line - b.line || a.column - b.column);
}
