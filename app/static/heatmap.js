/* attnserve page, part 1: colour scale, SVG helpers and attention grids. No libraries.
 *
 * An ES module (imported as `Attn` by chart.js and app.js):
 * colour(t)      viridis (colour-blind safe, sequential) for t in [0, 1]
 * svg(tag, attrs, parent)   create an SVG element
 * cells(...)     one focusable <rect data-testid="attention-cell"> per weight, with a <title>
 * legend(...)    the colour bar
 * heatmap(...)   a full labelled heatmap (translation: target rows x source columns)
 * table(...)     the same numbers as an HTML table (the accessible alternative)
 */
const NS = "http://www.w3.org/2000/svg"; // the SVG namespace name: an identifier, never fetched
// matplotlib's viridis at 0, 1/8, ..., 1; interpolated linearly in between
const VIRIDIS = ["#440154", "#472d7b", "#3b528b", "#2c728e", "#21918c",
                 "#28ae80", "#5ec962", "#addc30", "#fde725"];
const STOPS = VIRIDIS.map((hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)));

export function colour(t) {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (STOPS.length - 1);
  const i = Math.min(STOPS.length - 2, Math.floor(x));
  const f = x - i;
  const rgb = STOPS[i].map((a, k) => Math.round(a + (STOPS[i + 1][k] - a) * f));
  return `rgb(${rgb.join(",")})`;
}

export function svg(tag, attrs = {}, parent = null) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (parent) parent.appendChild(el);
  return el;
}

export function text(parent, x, y, content, attrs = {}) {
  const el = svg("text", { x, y, ...attrs }, parent);
  el.textContent = content;
  return el;
}

/** A SentencePiece piece as a reader sees it: '▁ab' -> 'ab', 'cd' -> '·cd', '▁' -> '␣'. */
export function pieceLabel(piece) {
  if (piece === "▁") return "␣";
  if (piece.startsWith("▁")) return piece.slice(1);
  if (/^<.*>$/.test(piece)) return piece; // </s>, <unk>
  return "·" + piece;
}

export function maxOf(matrix) {
  return matrix.reduce((m, row) => Math.max(m, ...row), 0) || 1;
}

/**
 * Draw one rect per weight into `group`. Cell (i, j) spans x(j)..x(j)+w, y(i)..y(i)+h.
 * Keyboard: one tab stop for the whole grid; arrows, Home and End move between cells.
 * `describe(i, j, v)` gives the words for the tooltip, aria-label and the readout.
 */
export function cells(group, matrix, { x, y, w, h, vmax, describe, readout, onFocus }) {
  const rects = [];
  matrix.forEach((row, i) => row.forEach((v, j) => {
    const words = describe(i, j, v);
    const rect = svg("rect", {
      x: x(j), y: y(i), width: w, height: h, fill: colour(v / vmax),
      "data-testid": "attention-cell", "data-row": i, "data-col": j,
      tabindex: rects.length === 0 ? 0 : -1, role: "img", "aria-label": words,
    }, group);
    svg("title", {}, rect).textContent = words;
    const show = () => {
      if (readout) readout.textContent = words;
      if (onFocus) onFocus(i, j, v);
    };
    rect.addEventListener("mouseenter", show);
    rect.addEventListener("focus", show);
    rects.push(rect);
  }));
  const rows = matrix.length;
  const cols = rows ? matrix[0].length : 0;
  group.addEventListener("keydown", (event) => {
    const at = rects.indexOf(event.target);
    if (at < 0) return;
    let i = Math.floor(at / cols);
    let j = at % cols;
    const moves = {
      ArrowLeft: () => { j = Math.max(0, j - 1); }, ArrowRight: () => { j = Math.min(cols - 1, j + 1); },
      ArrowUp: () => { i = Math.max(0, i - 1); }, ArrowDown: () => { i = Math.min(rows - 1, i + 1); },
      Home: () => { j = 0; }, End: () => { j = cols - 1; },
    };
    if (!moves[event.key]) return;
    event.preventDefault();
    moves[event.key]();
    const next = rects[i * cols + j];
    rects[at].setAttribute("tabindex", -1);
    next.setAttribute("tabindex", 0);
    next.focus();
  });
  return rects;
}

/** A horizontal colour bar from 0 to vmax at (x, y), with three ticks and a title. */
export function legend(parent, x, y, width, vmax, title = "attention weight") {
  const g = svg("g", { class: "legend", "aria-hidden": "true" }, parent);
  const id = "grad-" + Math.random().toString(36).slice(2, 9);
  const grad = svg("linearGradient", { id, x1: 0, x2: 1, y1: 0, y2: 0 }, svg("defs", {}, g));
  VIRIDIS.forEach((c, k) => svg("stop", { offset: k / (VIRIDIS.length - 1), "stop-color": c }, grad));
  text(g, x, y - 4, title, { class: "axis-title" });
  svg("rect", { x, y, width, height: 10, fill: `url(#${id})`, stroke: "#555", "stroke-width": 0.5 }, g);
  [0, 0.5, 1].forEach((f) => {
    const tx = x + f * width;
    svg("line", { x1: tx, x2: tx, y1: y + 10, y2: y + 14, stroke: "#555" }, g);
    text(g, tx, y + 25, (f * vmax).toFixed(vmax < 0.1 ? 3 : 2), { "text-anchor": "middle", class: "tick" });
  });
  return g;
}

/**
 * A labelled heatmap: rows x cols cells, row labels on the left, column labels on top
 * (slanted), axis titles and a colour legend underneath. Returns the <svg>.
 */
export function heatmap(box, matrix, { rowLabels, colLabels, rowTitle, colTitle, label, testid,
                                describe, readout }) {
  const rows = matrix.length;
  const cols = rows ? matrix[0].length : 0;
  const cell = Math.max(14, Math.min(34, Math.floor(560 / Math.max(cols, 1))));
  const charW = 7.2;
  const longest = (labels) => labels.reduce((m, s) => Math.max(m, s.length), 1);
  const left = 26 + longest(rowLabels) * charW + 8;
  const slant = longest(colLabels) * charW * 0.71; // labels at -45 degrees
  const top = 28 + slant + 8;
  const width = Math.max(left + cols * cell + slant + 10, left + 250);
  const height = top + rows * cell + 58;
  const vmax = maxOf(matrix);
  box.replaceChildren();
  const root = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "group",
                            "aria-label": label, "data-testid": testid, class: "heatmap" }, box);
  colLabels.forEach((s, j) => {
    const cx = left + j * cell + cell / 2;
    text(root, cx, top - 6, s, { transform: `rotate(-45 ${cx} ${top - 6})`, class: "token" });
  });
  rowLabels.forEach((s, i) => {
    text(root, left - 6, top + i * cell + cell / 2 + 4, s, { "text-anchor": "end", class: "token" });
  });
  text(root, left, 14, colTitle + " →", { class: "axis-title" });
  const ry = top + (rows * cell) / 2;
  text(root, 14, ry, rowTitle + " →", { transform: `rotate(90 14 ${ry})`, "text-anchor": "middle",
                                        class: "axis-title" });
  cells(svg("g", { class: "cells" }, root), matrix, {
    x: (j) => left + j * cell, y: (i) => top + i * cell, w: cell - 1, h: cell - 1,
    vmax, describe, readout,
  });
  legend(root, left, top + rows * cell + 24, Math.min(240, Math.max(120, cols * cell)), vmax);
  return root;
}

/** The numbers as a table: a caption, column headers, one header cell per row. */
export function table(box, matrix, { caption, rowLabels, colLabels, corner = "" }) {
  const t = document.createElement("table");
  t.createCaption().textContent = caption;
  const head = t.createTHead().insertRow();
  [corner, ...colLabels].forEach((s) => {
    const th = document.createElement("th");
    th.scope = "col";
    th.textContent = s;
    head.appendChild(th);
  });
  const body = t.createTBody();
  matrix.forEach((row, i) => {
    const tr = body.insertRow();
    const th = document.createElement("th");
    th.scope = "row";
    th.textContent = rowLabels[i];
    tr.appendChild(th);
    row.forEach((v) => { tr.insertCell().textContent = v.toFixed(3); });
  });
  box.appendChild(t);
  return t;
}
