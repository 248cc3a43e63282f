/**
 * Grouped horizontal bar charts as SVG, written by the benches next to `RESULTS.md`
 * (issue 17 asks for a chart of the live-query and merge figures). Plain SVG text: no
 * fonts or scripts to load, so GitHub and any browser show it as it is.
 */

/** One chart: groups (e.g. a query) of bars (e.g. one per library). */
export interface ChartSpec {
  /** File name under bench/charts/, e.g. `live-queries.svg`. */
  readonly file: string;
  readonly title: string;
  /** Axis unit, e.g. `ms` or `MB`. */
  readonly unit: string;
  /** Log scale, for figures spanning orders of magnitude. */
  readonly log?: boolean;
  /** Smaller is better (said under the title). */
  readonly lowerIsBetter?: boolean;
  readonly groups: readonly {
    readonly label: string;
    /** This group's unit, when not the chart's. */
    readonly unit?: string;
    readonly bars: readonly ChartBar[];
  }[];
}

export interface ChartBar {
  readonly name: string;
  /** Missing or not positive on a log scale: the bar is drawn as "—" with the note. */
  readonly value: number | null;
  readonly note?: string;
}

const PALETTE = ['#2563eb', '#f97316', '#16a34a', '#9333ea', '#dc2626', '#0891b2', '#ca8a04', '#64748b'];

const esc = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const fmt = (v: number) =>
  v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v >= 1 ? v.toFixed(2) : v.toPrecision(2);

/** The chart as SVG text. Bar colours follow the bar names, the same in every group. */
export function barChartSvg(spec: ChartSpec): string {
  const names = [...new Set(spec.groups.flatMap((g) => g.bars.map((b) => b.name)))];
  const colour = new Map(names.map((n, i) => [n, PALETTE[i % PALETTE.length]!]));
  const values = spec.groups
    .flatMap((g) => g.bars.map((b) => b.value))
    .filter((v): v is number => v !== null);
  const positive = values.filter((v) => v > 0);
  const max = Math.max(...values, 0);
  const min = positive.length ? Math.min(...positive) : 1;
  const lo = spec.log ? Math.pow(10, Math.floor(Math.log10(min))) : 0;
  const hi = spec.log ? Math.pow(10, Math.ceil(Math.log10(Math.max(max, lo * 10)))) : max * 1.08 || 1;
  const labelW = 190;
  const plotW = 560;
  const barH = 14;
  const gap = 10;
  const top = 58;
  const x = (v: number) =>
    spec.log
      ? ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * plotW
      : (v / hi) * plotW;
  const out: string[] = [];
  let y = top;
  for (const g of spec.groups) {
    out.push(`<text x="8" y="${y + 11}" font-weight="600">${esc(g.label)}</text>`);
    y += 18;
    for (const b of g.bars) {
      out.push(`<text x="${labelW - 6}" y="${y + 11}" text-anchor="end">${esc(b.name)}</text>`);
      if (b.value === null || (spec.log && b.value <= 0)) {
        out.push(
          `<text x="${labelW + 4}" y="${y + 11}" fill="#64748b">— ${esc(b.note ?? 'not measured')}</text>`,
        );
      } else {
        const w = Math.max(1, x(b.value));
        out.push(
          `<rect x="${labelW}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${colour.get(b.name)}"/>`,
          `<text x="${(labelW + w + 4).toFixed(1)}" y="${y + 11}">${fmt(b.value)} ${esc(g.unit ?? spec.unit)}${b.note ? ` (${esc(b.note)})` : ''}</text>`,
        );
      }
      y += barH + 3;
    }
    y += gap;
  }
  const ticks: number[] = [];
  if (spec.log) for (let t = lo; t <= hi * 1.0001; t *= 10) ticks.push(t);
  else for (let i = 0; i <= 4; i++) ticks.push((hi * i) / 4);
  const axis = ticks.map(
    (t) =>
      `<line x1="${(labelW + x(t)).toFixed(1)}" y1="${top - 6}" x2="${(labelW + x(t)).toFixed(1)}" y2="${y - gap}" stroke="#e2e8f0"/>` +
      `<text x="${(labelW + x(t)).toFixed(1)}" y="${y + 6}" text-anchor="middle" fill="#64748b">${fmt(t)}</text>`,
  );
  const width = labelW + plotW + 150;
  const height = y + 20;
  const sub = `${spec.unit}${spec.log ? ', log scale' : ''}${spec.lowerIsBetter ? '; shorter is better' : ''}`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="8" y="20" font-size="14" font-weight="700">${esc(spec.title)}</text>`,
    `<text x="8" y="38" fill="#475569">${esc(sub)}</text>`,
    ...axis,
    ...out,
    `</svg>`,
    '',
  ].join('\n');
}
