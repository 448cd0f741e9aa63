/* attnserve page, part 2: the forecast fan chart with its attention aligned underneath.
 *
 * draw(box, prices, answer, { label, readout }) draws two SVGs into `box` that share one x
 * scale: the chart (prices, forecast median, interval band, naive forecast, axes, legend) and,
 * right under the last `window` prices, the attention (days ahead x window), coloured by weight x L
 * against uniform (Attn.ratioColour: grey = 1/L, the scale fixed). Both are laid out
 * for the width of `box` (a phone's too) and scale with it (viewBox, width 100%).
 */
import * as Attn from "./heatmap.js";

const fmt = (v) => v.toFixed(2);
const COLOURS = { history: "#222222", median: "#0072B2", band: "#56B4E9", naive: "#D55E00" };
const MIN_W = 300; // narrower boxes get this layout, scaled down
const LEFT = 64;
const RIGHT = 16;
const LEGEND_ROW = 18;

function niceTicks(lo, hi, count) {
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(v);
  return out;
}

/** The legend's items, wrapped into rows that fit W: [key, kind, label, x, y] each. */
function legendItems(W, pct) {
  const items = [["history", "line", "prices"], ["median", "line", "forecast median"],
                 ["band", "box", `${pct}% interval`], ["naive", "dash", "naive (last price)"]];
  const start = W < 500 ? 8 : LEFT;
  let lx = start;
  let ly = 8;
  return items.map(([key, kind, label]) => {
    const itemW = 28 + label.length * 6.4 + 16; // sample, gap, 11 px text, space
    if (lx > start && lx + itemW > W - RIGHT) {
      lx = start;
      ly += LEGEND_ROW;
    }
    lx += itemW;
    return [key, kind, label, lx - itemW, ly];
  });
}

/** The shared scales for a W px wide box: t = 0 is the last price, -1 the one before, 1..H the
 * forecast days. The forecast days get at least a quarter of the plot's width (at 5 days ahead
 * after 60 prices they would get 8%), the history the rest. */
function layout(prices, r, W) {
  const H = r.forecast.length;
  const L = r.window;
  // enough history for context, little enough that the H forecast days stay readable
  const shown = Math.min(prices.length, Math.max(L + 20, 4 * H, 60));
  const history = prices.slice(-shown);
  const plotW = W - LEFT - RIGHT;
  const ahead = Math.max(0.25, H / (shown + H)); // the forecast region's share of the width
  const step = (plotW * (1 - ahead)) / shown; // px a past day
  const stepAhead = (plotW * ahead) / H; // px a day ahead
  const all = [...history, ...r.lower, ...r.upper];
  let lo = Math.min(...all);
  let hi = Math.max(...all);
  const pad = (hi - lo) * 0.06 || Math.abs(hi) * 0.05 || 1;
  lo -= pad;
  hi += pad;
  const legend = legendItems(W, Math.round(r.interval * 100));
  const top = legend[legend.length - 1][4] + LEGEND_ROW + 14;
  const plotH = Math.round(Math.max(180, Math.min(250, W / 3)));
  const origin = LEFT + (shown - 0.5) * step;
  // dates: the file's rows read (oldest first, the last one the last price) and the forecast's sessions
  const past = r.file ? r.file.dates.slice(-shown) : null;
  const dateOf = (t) => (t <= 0 ? (past && past[past.length - 1 + t]) : (r.dates && r.dates[t - 1])) || null;
  return {
    W, H, L, shown, history, step, lo, hi, legend, top, plotH, last: history[history.length - 1], dateOf,
    x: (t) => (t <= 0 ? origin + t * step : origin + t * stepAhead),
    y: (v) => top + (hi - v) / (hi - lo) * plotH,
  };
}

/** Price grid and ticks, day ticks, the two axis titles. */
function axes(chart, s) {
  const { svg, text } = Attn;
  const { W, top, plotH } = s;
  for (const v of niceTicks(s.lo, s.hi, 5)) {
    svg("line", { x1: LEFT, x2: W - RIGHT, y1: s.y(v), y2: s.y(v), class: "grid" }, chart);
    text(chart, LEFT - 6, s.y(v) + 4, v.toLocaleString("en", { maximumFractionDigits: 2 }),
         { "text-anchor": "end", class: "tick" });
  }
  const dated = s.dateOf(0) !== null;
  const every = dated ? (W < 500 ? 40 : 20) : s.shown > 60 ? 20 : 10;
  const xTicks = [];
  for (let t = 0; t > -s.shown; t -= every) xTicks.unshift(t);
  xTicks.push(s.H);
  const base = top + plotH;
  for (const t of xTicks) {
    const day = s.dateOf(t);
    svg("line", { x1: s.x(t), x2: s.x(t), y1: base, y2: base + 5, stroke: "#555" }, chart);
    text(chart, s.x(t), base + 18, day ? day.slice(5) : t > 0 ? `+${t}` : `${t}`,
         { "text-anchor": t === s.H ? "end" : "middle", class: "tick", "data-day": t });
  }
  svg("line", { x1: LEFT, x2: W - RIGHT, y1: base, y2: base, stroke: "#555" }, chart);
  const first = s.dateOf(-(s.shown - 1));
  const title = dated
    ? `trading days, ${(first || s.dateOf(0)).slice(0, 4)}–${(s.dateOf(s.H) || s.dateOf(0)).slice(0, 4)} (month-day)`
    : "trading days (0 = last price)";
  text(chart, LEFT + (W - LEFT - RIGHT) / 2, base + 36, title, { "text-anchor": "middle", class: "axis-title" });
  const mid = top + plotH / 2;
  text(chart, 14, mid, "price", { transform: `rotate(-90 14 ${mid})`, "text-anchor": "middle",
                                  class: "axis-title" });
}

/** Band, naive, history and median lines; returns the (hidden) marker the attention moves. */
function lines(chart, s, r) {
  const { svg } = Attn;
  const path = (points) => points.map(([t, v]) => `${s.x(t).toFixed(1)},${s.y(v).toFixed(1)}`).join(" ");
  const ahead = (values) => values.map((v, k) => [k + 1, v]);
  svg("polygon", { points: path([[0, s.last], ...ahead(r.upper), ...ahead(r.lower).reverse()]),
                   fill: COLOURS.band, "fill-opacity": 0.35, stroke: "none", class: "band" }, chart);
  svg("polyline", { points: path([[0, s.last], [s.H, r.baseline.naive[s.H - 1]]]), fill: "none",
                    stroke: COLOURS.naive, "stroke-width": 2, "stroke-dasharray": "6 4",
                    class: "naive" }, chart);
  svg("polyline", { points: path(s.history.map((v, k) => [k - s.shown + 1, v])), fill: "none",
                    stroke: COLOURS.history, "stroke-width": 1.5, class: "history" }, chart);
  svg("polyline", { points: path([[0, s.last], ...ahead(r.forecast)]), fill: "none",
                    stroke: COLOURS.median, "stroke-width": 2.5, class: "median" }, chart);
  widthDays(chart, s, r);
  return svg("circle", { r: 5, cx: -10, cy: -10, class: "marker", visibility: "hidden" }, chart);
}

/** The days that carry the most of the first step's interval variance (the answer's `width`),
 * ringed on the price line, with their share. */
function widthDays(chart, s, r) {
  const first = r.width && r.width[0];
  if (!first) return;
  const { svg, text } = Attn;
  for (const d of first.days) {
    const price = s.history[s.history.length - 1 + d.day];
    if (price === undefined) continue;
    const ring = svg("circle", { cx: s.x(d.day), cy: s.y(price), r: 6, class: "width-day",
                                 "data-testid": "width-day", "data-day": d.day }, chart);
    svg("title", {}, ring).textContent = `day ${d.day}: ${(100 * d.share).toFixed(0)}% of the variance ` +
                                         "behind the +1 interval";
  }
  const top = first.days[0];
  const price = s.history[s.history.length - 1 + top.day];
  if (price !== undefined) {
    text(chart, s.x(top.day), s.y(price) - 10, `${Math.round(100 * first.share)}% of the +1 width`,
         { "text-anchor": "middle", class: "tick width-label" });
  }
}

function legend(chart, items) {
  const { svg, text } = Attn;
  for (const [key, kind, label, lx, ly] of items) {
    if (kind === "box") {
      svg("rect", { x: lx, y: ly, width: 22, height: 12, fill: COLOURS.band, "fill-opacity": 0.35 }, chart);
    } else {
      svg("line", { x1: lx, x2: lx + 22, y1: ly + 6, y2: ly + 6, stroke: COLOURS[key], "stroke-width": 2.5,
                    "stroke-dasharray": kind === "dash" ? "6 4" : "none" }, chart);
    }
    text(chart, lx + 28, ly + 10, label, { class: "tick" });
  }
}

/** Row h = day ahead, column j = the j-th of the last L prices, right under that price. */
function attention(box, s, r, readout, marker) {
  const { svg, text } = Attn;
  const { W, H, L, x, step } = s;
  const cellH = Math.max(8, Math.min(18, Math.floor(160 / H)));
  const aTop = 22;
  const aHeight = aTop + H * cellH + 52;
  const att = svg("svg", { viewBox: `0 0 ${W} ${aHeight}`, role: "group", class: "heatmap fit",
                           "data-testid": "forecast-attention",
                           "aria-label": `Attention: ${H} days ahead by the last ${L} prices` }, box);
  const x0 = x(-(L - 1)) - step / 2; // left edge of the window
  text(att, W < 500 ? 8 : LEFT, 14, "attention over the prices right above", { class: "axis-title" });
  const mid = aTop + (H * cellH) / 2;
  const tx = Math.max(14, x0 - 34);
  text(att, tx, mid, "day ahead", { transform: `rotate(-90 ${tx} ${mid})`, "text-anchor": "middle",
                                    class: "axis-title" });
  const labelEvery = cellH >= 12 ? 1 : 5;
  for (let i = 0; i < H; i++) {
    if (i % labelEvery === 0 || i === H - 1) {
      text(att, x0 - 6, aTop + i * cellH + cellH / 2 + 4, `+${i + 1}`, { "text-anchor": "end", class: "tick" });
    }
  }
  const windowPrices = s.history.slice(-L);
  // colour: the weight against uniform (1/L), on one fixed scale, so a flat row looks flat
  svg("rect", { x: x0, y: aTop - 0.5, width: L * step, height: H * cellH, class: "grid-frame" }, att);
  Attn.cells(svg("g", { class: "cells" }, att), r.attention, {
    x: (j) => x(j - L + 1) - step / 2, y: (i) => aTop + i * cellH,
    w: Math.max(1, step - (step > 4 ? 0.5 : 0)), h: cellH - 1, fill: (v) => Attn.ratioColour(v * L),
    readout,
    describe: (i, j, v) => `day +${i + 1} looked at the price ${fmt(windowPrices[j])} ` +
                           `(day ${j - L + 1}): ${v.toFixed(3)} = ${(v * L).toFixed(2)} × uniform`,
    onFocus: (i, j) => {
      marker.setAttribute("cx", x(j - L + 1));
      marker.setAttribute("cy", s.y(windowPrices[j]));
      marker.setAttribute("visibility", "visible");
    },
  });
  const barWidth = Math.min(240, W - 2 * RIGHT);
  Attn.ratioLegend(att, Math.max(RIGHT, Math.min(x0, W - RIGHT - barWidth)), aTop + H * cellH + 22, barWidth, L);
  return att;
}

/** Chart SVG (prices, median, band, naive) above the attention SVG; one x scale for both. */
export function draw(box, prices, r, { label, readout }) {
  const s = layout(prices, r, Math.max(MIN_W, Math.floor(box.clientWidth)));
  box.replaceChildren();
  const height = s.top + s.plotH + 44;
  const chart = Attn.svg("svg", { viewBox: `0 0 ${s.W} ${height}`, role: "img", class: "chart fit",
                                  "data-testid": "forecast-chart", "aria-label": label }, box);
  Attn.svg("rect", { x: s.x(-(s.L - 1)) - s.step / 2, y: s.top, width: s.L * s.step, height: s.plotH,
                     class: "window" }, chart);
  Attn.text(chart, s.x(0) + s.step / 2, s.top - 6, `model window: last ${s.L} prices`,
            { "text-anchor": "end", class: "tick" });
  axes(chart, s);
  const marker = lines(chart, s, r);
  legend(chart, s.legend);
  const att = attention(box, s, r, readout, marker);
  return { chart, att };
}
