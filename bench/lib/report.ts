/**
 * One row per measured figure, printed next to the baseline measured in the same run, and
 * written as JSON and Markdown under bench/results/ (not committed).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { summarize, type Summary } from './stats.js';

export interface Goal {
  /** e.g. "≤ 0.5× baseline", "< 150 ms". */
  readonly text: string;
  readonly met: boolean;
}

export interface Row {
  readonly bench: string;
  readonly figure: string;
  readonly unit: 'ms' | 'MB' | 'ops/s';
  readonly summary: Summary;
  readonly baseline?: { readonly name: string; readonly summary: Summary };
  /** figure median / baseline median, when a baseline exists. */
  readonly ratio?: number;
  readonly goal?: Goal;
  readonly note?: string;
}

export function row(
  bench: string,
  figure: string,
  unit: Row['unit'],
  samples: readonly number[],
  extra: {
    baseline?: { name: string; samples: readonly number[] };
    goal?: (r: { median: number; ratio?: number; baselineMedian?: number }) => Goal;
    note?: string;
  } = {},
): Row {
  const summary = summarize(samples);
  const baseline =
    extra.baseline === undefined
      ? undefined
      : { name: extra.baseline.name, summary: summarize(extra.baseline.samples) };
  const ratio = baseline === undefined ? undefined : summary.median / baseline.summary.median;
  return {
    bench,
    figure,
    unit,
    summary,
    ...(baseline !== undefined ? { baseline } : {}),
    ...(ratio !== undefined ? { ratio } : {}),
    ...(extra.goal !== undefined
      ? {
          goal: extra.goal({
            median: summary.median,
            ...(ratio !== undefined ? { ratio } : {}),
            ...(baseline !== undefined ? { baselineMedian: baseline.summary.median } : {}),
          }),
        }
      : {}),
    ...(extra.note !== undefined ? { note: extra.note } : {}),
  };
}

const f = (n: number, unit: string): string =>
  Number.isNaN(n) ? '–' : `${n >= 100 ? n.toFixed(0) : n.toFixed(1)} ${unit}`;

export function markdown(rows: readonly Row[], header: string): string {
  const lines = [
    header,
    '',
    '| benchmark | figure | median | p99 | min–max | runs | baseline (median) | ratio | goal | met |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows
      .map((r) =>
        [
          r.bench,
          r.figure,
          f(r.summary.median, r.unit),
          f(r.summary.p99, r.unit),
          `${f(r.summary.min, r.unit)} – ${f(r.summary.max, r.unit)}`,
          String(r.summary.runs),
          r.baseline === undefined ? '' : `${r.baseline.name}: ${f(r.baseline.summary.median, r.unit)}`,
          r.ratio === undefined ? '' : `${r.ratio.toFixed(2)}×`,
          r.goal?.text ?? '',
          r.goal === undefined ? '' : r.goal.met ? 'yes' : '**no**',
        ].join(' | '),
      )
      .map((l) => `| ${l} |`),
    '',
    ...rows.filter((r) => r.note !== undefined).map((r) => `- ${r.bench} / ${r.figure}: ${r.note ?? ''}`),
  ];
  return `${lines.join('\n')}\n`;
}

export function writeResults(dir: string, rows: readonly Row[], header: string): string {
  mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replaceAll(/[:.]/g, '-');
  writeFileSync(join(dir, `bench-${stamp}.json`), `${JSON.stringify({ header, rows }, null, 2)}\n`);
  const md = join(dir, `bench-${stamp}.md`);
  writeFileSync(md, markdown(rows, header));
  writeFileSync(join(dir, 'latest.md'), markdown(rows, header));
  return md;
}
