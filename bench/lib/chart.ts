/**
 * The scaling chart: a Vega-Lite spec compiled with vega-lite, rendered to SVG by vega (no
 * canvas, no browser), rasterised to PNG by @resvg/resvg-js (a prebuilt binary from npm's
 * optional dependencies). Pure data in, one PNG out.
 */
import { Resvg } from '@resvg/resvg-js';
import { writeFileSync } from 'node:fs';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/** One measured point: time (s) for `n` concurrent identities in configuration `series`. */
export interface ScalePoint {
  readonly n: number;
  readonly series: string;
  readonly seconds: number;
}

/** Median time of one phase per node, for the stacked bars. */
export interface PhasePoint {
  readonly n: number;
  readonly series: string;
  readonly phase: string;
  /** Order of the phase in the stack (create first). */
  readonly order: number;
  readonly seconds: number;
}

export async function writeScalingChart(
  file: string,
  title: string,
  totals: readonly ScalePoint[],
  phases: readonly PhasePoint[],
): Promise<void> {
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: title, fontSize: 14 },
    background: 'white',
    config: { font: 'DejaVu Sans', axis: { labelFontSize: 11, titleFontSize: 12 } },
    resolve: { scale: { color: 'independent' }, legend: { color: 'independent' } },
    hconcat: [
      {
        title: 'Time until every identity is written',
        width: 360,
        height: 260,
        data: { values: [...totals] },
        mark: { type: 'line', point: { size: 60 } },
        encoding: {
          x: {
            field: 'n',
            type: 'quantitative',
            title: 'concurrent node identities (N)',
            scale: { type: 'log' },
          },
          y: { field: 'seconds', type: 'quantitative', title: 'seconds' },
          color: {
            field: 'series',
            type: 'nominal',
            title: null,
            legend: { orient: 'top-left', labelLimit: 300 },
          },
        },
      },
      {
        title: 'Median per node, by phase',
        width: 300,
        height: 260,
        data: { values: [...phases] },
        mark: 'bar',
        encoding: {
          x: {
            field: 'label',
            type: 'ordinal',
            title: 'N (configuration)',
            sort: null,
            axis: { labelAngle: -30 },
          },
          y: { field: 'seconds', type: 'quantitative', title: 'seconds', stack: 'zero' },
          color: { field: 'phase', type: 'nominal', title: null, sort: { field: 'order' } },
          order: { field: 'order', type: 'quantitative' },
        },
        transform: [
          { calculate: "datum.n + (datum.series === '' ? '' : ' (' + datum.series + ')')", as: 'label' },
        ],
      },
    ],
  };
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG(2);
  view.finalize();
  const png = new Resvg(svg, {
    background: 'white',
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' },
  })
    .render()
    .asPng();
  writeFileSync(file, png);
}
