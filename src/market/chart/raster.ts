import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import { CHART_FONT_FAMILY } from './svg.js';

/**
 * SVG → PNG with resvg (no browser). resvg ships no font and the production image has none,
 * so text would silently vanish: the chart font is loaded explicitly from a file and system
 * fonts are never consulted, which makes the output byte-identical on every machine with the
 * same font file. Where no font file is found, rendering fails with a message saying how to
 * get one — a chart without axis labels is not shown.
 */

export interface ChartFont {
  family: string;
  files: string[];
  /** where the files came from, for diagnostics */
  from: string;
}

const FILES = ['DejaVuSans.ttf', 'DejaVuSans-Bold.ttf'];

/** Debian's fonts-dejavu-core, for machines that have it instead of the npm package */
const SYSTEM_DIRS = ['/usr/share/fonts/truetype/dejavu', '/usr/share/fonts/dejavu', '/usr/share/fonts/TTF'];

let cached: ChartFont | null = null;

function dirWithFonts(dir: string): string[] | null {
  const files = FILES.map((f) => path.join(dir, f));
  return files.every((f) => existsSync(f)) ? files : null;
}

/** Finds the chart font: $DESKBOT_CHART_FONT_DIR, the dejavu-fonts-ttf package, then the system's DejaVu. */
export function chartFont(): ChartFont {
  if (cached) return cached;
  const tried: string[] = [];
  const envDir = process.env.DESKBOT_CHART_FONT_DIR;
  if (envDir) {
    const files = dirWithFonts(envDir);
    if (files) return (cached = { family: CHART_FONT_FAMILY, files, from: `DESKBOT_CHART_FONT_DIR (${envDir})` });
    tried.push(envDir);
  }
  try {
    const pkg = createRequire(import.meta.url).resolve('dejavu-fonts-ttf/package.json');
    const dir = path.join(path.dirname(pkg), 'ttf');
    const files = dirWithFonts(dir);
    if (files) return (cached = { family: CHART_FONT_FAMILY, files, from: 'npm package dejavu-fonts-ttf' });
    tried.push(dir);
  } catch {
    tried.push('npm package dejavu-fonts-ttf (not installed)');
  }
  for (const dir of SYSTEM_DIRS) {
    const files = dirWithFonts(dir);
    if (files) return (cached = { family: CHART_FONT_FAMILY, files, from: dir });
    tried.push(dir);
  }
  throw new Error(
    `chart font not found (${FILES.join(', ')}); looked in: ${tried.join('; ')}. ` +
      'Install the npm package dejavu-fonts-ttf, or the Debian package fonts-dejavu-core, or point DESKBOT_CHART_FONT_DIR at a folder holding those files.',
  );
}

/** Rasterises an SVG made by buildCandleSvg (or any SVG using the chart font) to PNG bytes. */
export function svgToPng(svg: string): Uint8Array {
  const font = chartFont();
  const r = new Resvg(svg, {
    font: {
      fontFiles: font.files,
      loadSystemFonts: false,
      defaultFontFamily: font.family,
      sansSerifFamily: font.family,
    },
    fitTo: { mode: 'original' },
    shapeRendering: 2,
    textRendering: 1,
    logLevel: 'off',
  });
  const png = r.render().asPng();
  return new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
}
