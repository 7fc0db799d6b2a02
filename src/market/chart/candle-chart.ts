import type { CheckedCandles } from '../types.js';
import { svgToPng } from './raster.js';
import { buildCandleSvg, type CandleChartOptions } from './svg.js';

export type { CandleChartOptions, ChartTheme } from './svg.js';
export { buildCandleSvg, gapsInWindow } from './svg.js';
export { chartFont, svgToPng } from './raster.js';

/**
 * A candlestick + volume chart as PNG bytes, ready for a Reply image block. Default
 * 1200×700, dark theme. Gaps in the record show as empty, hatched time with a
 * "gap: N missing" label; missing candles are never drawn. Throws on an empty series and
 * when the chart font cannot be found (see raster.ts).
 */
export function renderCandleChart(c: CheckedCandles, opts: CandleChartOptions = {}): Uint8Array {
  return svgToPng(buildCandleSvg(c, opts));
}
