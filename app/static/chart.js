/* attnserve page, part 2: the forecast fan chart with its attention aligned underneath.
 *
 * ForecastChart.draw(box, prices, answer, { label, readout }) draws two SVGs into `box` that
 * share one x scale: the chart (prices, forecast median, interval band, naive forecast, axes,
 * legend) and, right under the last `window` prices, the attention (days ahead x window).
 */
"use strict";

const ForecastChart = (() => {
  const fmt = (v) => v.toFixed(2);

  function niceTicks(lo, hi, count) {
    const raw = (hi - lo) / count;
    const mag = 10 ** Math.floor(Math.log10(raw));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw);
    const out = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(v);
    return out;
  }

  const COLOURS = { history: "#222222", median: "#0072B2", band: "#56B4E9", naive: "#D55E00" };
  const W = 760;
  const LEFT = 64;
  const RIGHT = 16;

  /** Chart SVG (prices, median, band, naive) above the attention SVG; one x scale for both. */
  function draw(box, prices, r, { label, readout }) {
    const { svg, text } = Attn;
    const H = r.forecast.length;
    const L = r.window;
    // enough history for context, little enough that the H forecast days stay readable
    const shown = Math.min(prices.length, Math.max(L + 20, 4 * H, 60));
    const history = prices.slice(-shown);
    const last = history[history.length - 1];
    // t = 0 is the last price, -1 the one before, 1..H the forecast days
    const step = (W - LEFT - RIGHT) / (shown + H);
    const x = (t) => LEFT + (t + shown - 0.5) * step;
    const all = [...history, ...r.lower, ...r.upper];
    let lo = Math.min(...all);
    let hi = Math.max(...all);
    const pad = (hi - lo) * 0.06 || Math.abs(hi) * 0.05 || 1;
    lo -= pad;
    hi += pad;
    const top = 40;
    const plotH = 250;
    const y = (v) => top + (hi - v) / (hi - lo) * plotH;
    const pct = Math.round(r.interval * 100);
    box.replaceChildren();

    const chart = svg("svg", { width: W, height: top + plotH + 44, viewBox: `0 0 ${W} ${top + plotH + 44}`,
                               role: "img", "data-testid": "forecast-chart", class: "chart",
                               "aria-label": label }, box);
    svg("rect", { x: x(-(L - 1)) - step / 2, y: top, width: L * step, height: plotH, class: "window" }, chart);
    text(chart, x(0) + step / 2, top - 6, `model window: last ${L} prices`,
         { "text-anchor": "end", class: "tick" });
    for (const v of niceTicks(lo, hi, 5)) {
      svg("line", { x1: LEFT, x2: W - RIGHT, y1: y(v), y2: y(v), class: "grid" }, chart);
      text(chart, LEFT - 6, y(v) + 4, v.toLocaleString("en", { maximumFractionDigits: 2 }),
           { "text-anchor": "end", class: "tick" });
    }
    const every = shown > 60 ? 20 : 10;
    const xTicks = [];
    for (let t = 0; t > -shown; t -= every) xTicks.unshift(t);
    xTicks.push(H);
    for (const t of xTicks) {
      svg("line", { x1: x(t), x2: x(t), y1: top + plotH, y2: top + plotH + 5, stroke: "#555" }, chart);
      text(chart, x(t), top + plotH + 18, t > 0 ? `+${t}` : `${t}`, { "text-anchor": "middle", class: "tick" });
    }
    svg("line", { x1: LEFT, x2: W - RIGHT, y1: top + plotH, y2: top + plotH, stroke: "#555" }, chart);
    text(chart, LEFT + (W - LEFT - RIGHT) / 2, top + plotH + 36, "trading days (0 = last price)",
         { "text-anchor": "middle", class: "axis-title" });
    text(chart, 14, top + plotH / 2, "price", { transform: `rotate(-90 14 ${top + plotH / 2})`,
                                                "text-anchor": "middle", class: "axis-title" });

    const path = (points) => points.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
    const ahead = (values) => values.map((v, k) => [k + 1, v]);
    svg("polygon", { points: path([[0, last], ...ahead(r.upper), ...ahead(r.lower).reverse()]),
                     fill: COLOURS.band, "fill-opacity": 0.35, stroke: "none", class: "band" }, chart);
    svg("polyline", { points: path([[0, last], [H, r.baseline.naive[H - 1]]]), fill: "none",
                      stroke: COLOURS.naive, "stroke-width": 2, "stroke-dasharray": "6 4",
                      class: "naive" }, chart);
    svg("polyline", { points: path(history.map((v, k) => [k - shown + 1, v])), fill: "none",
                      stroke: COLOURS.history, "stroke-width": 1.5, class: "history" }, chart);
    svg("polyline", { points: path([[0, last], ...ahead(r.forecast)]), fill: "none",
                      stroke: COLOURS.median, "stroke-width": 2.5, class: "median" }, chart);
    const marker = svg("circle", { r: 5, cx: -10, cy: -10, class: "marker", visibility: "hidden" }, chart);

    const items = [["history", "line", "prices"], ["median", "line", "forecast median"],
                   ["band", "box", `${pct}% interval`], ["naive", "dash", "naive (last price)"]];
    items.forEach(([key, kind, label], k) => {
      const lx = LEFT + k * 160;
      if (kind === "box") {
        svg("rect", { x: lx, y: 8, width: 22, height: 12, fill: COLOURS.band, "fill-opacity": 0.35 }, chart);
      } else {
        svg("line", { x1: lx, x2: lx + 22, y1: 14, y2: 14, stroke: COLOURS[key], "stroke-width": 2.5,
                      "stroke-dasharray": kind === "dash" ? "6 4" : "none" }, chart);
      }
      text(chart, lx + 28, 18, label, { class: "tick" });
    });

    // attention: row h = day ahead, column j = the j-th of the last L prices, under that price
    const cellH = Math.max(8, Math.min(18, Math.floor(160 / H)));
    const aTop = 22;
    const aHeight = aTop + H * cellH + 52;
    const att = svg("svg", { width: W, height: aHeight, viewBox: `0 0 ${W} ${aHeight}`, role: "group",
                             "data-testid": "forecast-attention", class: "heatmap",
                             "aria-label": `Attention: ${H} days ahead by the last ${L} prices` }, box);
    const x0 = x(-(L - 1)) - step / 2; // left edge of the window
    text(att, LEFT, 14, "attention: one row per day ahead, one column per price right above it",
         { class: "axis-title" });
    const mid = aTop + (H * cellH) / 2;
    const tx = Math.max(14, x0 - 34);
    text(att, tx, mid, "day ahead", { transform: `rotate(-90 ${tx} ${mid})`, "text-anchor": "middle",
                                      class: "axis-title" });
    const labelEvery = cellH >= 12 ? 1 : 5;
    for (let i = 0; i < H; i++) {
      if (i % labelEvery === 0 || i === H - 1) {
        text(att, x0 - 6, aTop + i * cellH + cellH / 2 + 4, `+${i + 1}`,
             { "text-anchor": "end", class: "tick" });
      }
    }
    const windowPrices = history.slice(-L);
    Attn.cells(svg("g", { class: "cells" }, att), r.attention, {
      x: (j) => x(j - L + 1) - step / 2, y: (i) => aTop + i * cellH,
      w: Math.max(1, step - (step > 4 ? 0.5 : 0)), h: cellH - 1, vmax: Attn.maxOf(r.attention),
      readout,
      describe: (i, j, v) => `day +${i + 1} looked at the price ${fmt(windowPrices[j])} ` +
                             `(day ${j - L + 1}): ${v.toFixed(3)}`,
      onFocus: (i, j) => {
        marker.setAttribute("cx", x(j - L + 1));
        marker.setAttribute("cy", y(windowPrices[j]));
        marker.setAttribute("visibility", "visible");
      },
    });
    Attn.legend(att, Math.min(x0, W - RIGHT - 200), aTop + H * cellH + 22, 200, Attn.maxOf(r.attention));
    return { chart, att };
  }

  return { draw };
})();
