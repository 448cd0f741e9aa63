/* attnserve page, part 1: colour scale, SVG helpers and attention grids. No libraries.
 *
 * An ES module (imported as `Attn` by chart.js and app.js):
 * colour(t)      viridis (colour-blind safe, sequential) for t in [0, 1]
 * svg(tag, attrs, parent)   create an SVG element
 * cells(...)     one focusable <rect data-testid="attention-cell"> per weight, with a <title>
 * pieceText(...) a SentencePiece piece as an axis label (the word-start marker drawn apart, a
 *                language token such as "<2de>" greyed: class "lang-token")
 * isLanguageToken(piece)  true for a multilingual model's target-language token ("<2de>")
 * legend(...)    the colour bar (fixed ticks 0, 0.25, 0.5, 0.75, 1)
 * ratioColour(r), ratioLegend(...)  a diverging scale of weight x L around uniform (r = 1, neutral)
 * heatmap(...)   a full labelled heatmap as wide as its box (translation: target x source)
 * table(...)     the same numbers as an HTML table (the accessible alternative)
 */
const NS = "http://www.w3.org/2000/svg"; // the SVG namespace name: an identifier, never fetched
// matplotlib's viridis at 0, 1/8, ..., 1; interpolated linearly in between
const VIRIDIS = ["#440154", "#472d7b", "#3b528b", "#2c728e", "#21918c",
                 "#28ae80", "#5ec962", "#addc30", "#fde725"];
const STOPS = VIRIDIS.map((hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)));

/** The colour at `t` in [0, 1] along `stops` (RGB triples, evenly spaced), linearly between. */
function along(stops, t) {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  const rgb = stops[i].map((a, k) => Math.round(a + (stops[i + 1][k] - a) * f));
  return `rgb(${rgb.join(",")})`;
}

export function colour(t) {
  return along(STOPS, t);
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

export const WORD_START = "\u2581"; // SentencePiece's word-start marker, "▁"
const LABEL_CHARS = 12; // a longer piece is cut with "…" on the axis (its tooltip has all of it)

/** A multilingual model's target-language token ("<2de>": write German), read before the text. */
export function isLanguageToken(piece) {
  return /^<2[A-Za-z_-]+>$/.test(piece);
}

/** A placeholder's piece (<0x01>..<0x08>): a span the text pipeline kept out of the model's reading. */
export function isPlaceholder(piece) {
  return /^<0x0[1-8]>$/.test(piece);
}

/**
 * A piece as an axis label: SentencePiece's word-start marker "▁" drawn apart (a lighter,
 * coloured glyph, class "word-start"), then the rest of the piece; a piece without the marker
 * continues the word before it. A language token is drawn whole and greyed (class "lang-token"):
 * the model reads it, the text does not hold it. The <title> holds the whole piece. Returns the <text>.
 */
export function pieceText(parent, x, y, piece, attrs = {}, chars = LABEL_CHARS) {
  const el = svg("text", { x, y, ...attrs }, parent);
  svg("title", {}, el).textContent = piece;
  if (isLanguageToken(piece) || isPlaceholder(piece)) {
    svg("tspan", { class: isPlaceholder(piece) ? "placeholder" : "lang-token" }, el).textContent = piece;
    return el;
  }
  const starts = piece.startsWith(WORD_START);
  const rest = starts ? piece.slice(1) : piece;
  if (starts) svg("tspan", { class: "word-start" }, el).textContent = WORD_START;
  const room = chars - (starts ? 1 : 0);
  if (rest) svg("tspan", {}, el).textContent = rest.length > room ? rest.slice(0, room - 1) + "…" : rest;
  return el;
}

/** How many characters pieceText draws for `piece`. */
export function pieceWidth(piece) {
  return Math.min(LABEL_CHARS, piece.length);
}

/**
 * Draw one rect per weight into `group`, coloured `fill(weight)` (default: the 0..1 viridis
 * scale). Cell (i, j) spans x(j)..x(j)+w, y(i)..y(i)+h.
 * Keyboard: one tab stop for the whole grid; arrows, Home and End move between cells.
 * `describe(i, j, v)` gives the words for the tooltip, aria-label and the readout.
 */
export function cells(group, matrix, { x, y, w, h, fill = colour, describe, readout, onFocus }) {
  const rects = [];
  matrix.forEach((row, i) => row.forEach((v, j) => {
    const words = describe(i, j, v);
    const rect = svg("rect", {
      x: x(j), y: y(i), width: w, height: h, fill: fill(v),
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

export const TICKS = [0, 0.25, 0.5, 0.75, 1];

/** A horizontal colour bar at (x, y): `colours` evenly along `width`, `ticks` as [position in
 * 0..1, label], `title` above. */
function colourBar(parent, x, y, width, { colours, ticks, title, cls }) {
  const g = svg("g", { class: cls, "aria-hidden": "true" }, parent);
  const id = "grad-" + Math.random().toString(36).slice(2, 9);
  const grad = svg("linearGradient", { id, x1: 0, x2: 1, y1: 0, y2: 0 }, svg("defs", {}, g));
  colours.forEach((c, k) => svg("stop", { offset: k / (colours.length - 1), "stop-color": c }, grad));
  text(g, x, y - 4, title, { class: "axis-title" });
  svg("rect", { x, y, width, height: 10, fill: `url(#${id})`, stroke: "#555", "stroke-width": 0.5 }, g);
  ticks.forEach(([f, label]) => {
    const tx = x + f * width;
    svg("line", { x1: tx, x2: tx, y1: y + 10, y2: y + 14, stroke: "#555" }, g);
    text(g, tx, y + 25, label, { "text-anchor": "middle", class: "tick" });
  });
  return g;
}

/** The fixed 0..1 scale of attention weights, with the same five ticks every time. */
export function legend(parent, x, y, width, { title = "attention weight (0 to 1)" } = {}) {
  return colourBar(parent, x, y, width,
                   { colours: VIRIDIS, ticks: TICKS.map((f) => [f, String(f)]), title, cls: "legend" });
}

// ColorBrewer RdBu (colour-blind safe): blue below uniform, grey at it, red above; ratios 1/8 .. 8
const DIVERGING = ["#2166ac", "#67a9cf", "#d1e5f0", "#f7f7f7", "#fddbc7", "#ef8a62", "#b2182b"];
const DSTOPS = DIVERGING.map((hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)));
export const RATIO_TICKS = ["⅛", "¼", "½", "1", "2", "4", "8"]; // one per doubling

/**
 * The colour of a weight `ratio` times the uniform one (weight x L): 1 (uniform) is the neutral
 * grey, each halving one step bluer and each doubling one step redder, fixed at 1/8 and 8. The
 * same ratio is the same colour in every answer: a flat row stays grey, never stretched.
 */
export function ratioColour(ratio) {
  const doublings = ratio > 0 ? Math.log2(ratio) : -Infinity;
  return along(DSTOPS, (Math.min(3, Math.max(-3, doublings)) + 3) / 6);
}

/** The bar of ratioColour, ticks ⅛ .. 8 evenly spaced (a log scale), for a window of `days`. */
export function ratioLegend(parent, x, y, width, days) {
  const ticks = RATIO_TICKS.map((label, k) => [k / (RATIO_TICKS.length - 1), label]);
  return colourBar(parent, x, y, width,
                   { colours: DIVERGING, ticks, title: `weight × ${days} (1 = uniform: grey)`, cls: "legend ratio" });
}

const CELL = { min: 10, max: 36 }; // px per cell, however much room there is
const CHAR_W = 7.3; // the advance of one 12 px monospace character
const COL_PITCH = 22; // px between drawn column labels: at -45 degrees, 15.6 px between their lines
const ROW_PITCH = 16; // px between drawn row labels (12 px text)
// a narrow screen (a phone): 11 px labels, column labels upright, cells from 13 px, every label drawn
const NARROW = { below: 560, char: 6.7, pitch: 13, chars: 10 };

/** Margins and the cell size that fills `room` px (within CELL), for these labels. Narrow: column
 * labels upright (their width along the axis is one line), so cells of 13 px keep every label. */
function grid(room, rowLabels, colLabels) {
  const narrow = room < NARROW.below;
  const charW = narrow ? NARROW.char : CHAR_W;
  const longest = (labels) => labels.reduce((m, s) => Math.max(m, Math.min(narrow ? NARROW.chars : 99,
                                                                           pieceWidth(s))), 1);
  const left = (narrow ? 18 : 26) + longest(rowLabels) * charW + (narrow ? 6 : 8);
  const rise = longest(colLabels) * charW * (narrow ? 1 : 0.71); // labels upright, or at -45 degrees
  const slant = narrow ? 0 : rise; // how far the last label reaches right of its column
  const fit = Math.floor((room - left - slant - (narrow ? 4 : 10)) / Math.max(colLabels.length, 1));
  const low = narrow ? NARROW.pitch : CELL.min;
  const cell = Math.max(low, Math.min(CELL.max, fit));
  return { left, slant, cell, top: 28 + rise + 8, narrow };
}

/**
 * A labelled heatmap as wide as `box` allows: rows x cols cells, row labels on the left, column
 * labels on top (slanted, or upright on a narrow screen; only every k-th when they would overlap;
 * every label and every cell has the whole label in its tooltip), axis titles and the fixed 0..1
 * colour bar underneath. Two SVGs side by side in one element (`testid`): the row labels' and the
 * grid's; when the grid is wider than the box, the box scrolls sideways and the row labels stay.
 */
export function heatmap(box, matrix, { rowLabels, colLabels, rowTitle, colTitle, label, testid,
                                describe, readout }) {
  const rows = matrix.length;
  const cols = rows ? matrix[0].length : 0;
  const { left, slant, cell, top, narrow } = grid(box.clientWidth || 600, rowLabels, colLabels);
  const barWidth = narrow ? Math.min(240, Math.max(120, cols * cell)) : Math.min(240, Math.max(160, cols * cell));
  const width = Math.ceil(Math.max(left + cols * cell + slant + (narrow ? 4 : 10), left + barWidth + (narrow ? 4 : 20)));
  const colEvery = Math.ceil((narrow ? NARROW.pitch : COL_PITCH) / cell);
  const rowEvery = Math.ceil((narrow ? NARROW.pitch : ROW_PITCH) / cell);
  const thinned = [[colEvery, "columns"], [rowEvery, "rows"]].filter(([k]) => k > 1);
  const height = top + rows * cell + 58 + (thinned.length ? 16 : 0);
  box.replaceChildren();
  const wrap = document.createElement("div");
  Object.assign(wrap, { className: "heatmap-wrap" + (narrow ? " narrow" : "") });
  wrap.setAttribute("role", "group");
  wrap.setAttribute("aria-label", label);
  wrap.setAttribute("data-testid", testid);
  box.appendChild(wrap);
  const side = svg("svg", { width: left, height, viewBox: `0 0 ${left} ${height}`, class: "heatmap rows" }, null);
  const root = svg("svg", { width: width - left, height, viewBox: `${left} 0 ${width - left} ${height}`,
                            class: "heatmap grid" }, null);
  wrap.append(side, root);
  const small = narrow ? { class: "token small" } : { class: "token" };
  const chars = narrow ? NARROW.chars : LABEL_CHARS;
  colLabels.forEach((piece, j) => {
    if (j % colEvery) return;
    const cx = left + j * cell + cell / 2 + (narrow ? 4 : 0);
    pieceText(root, cx, top - 6, piece, { transform: `rotate(${narrow ? -90 : -45} ${cx} ${top - 6})`,
                                          ...small, "data-col": j }, chars);
  });
  rowLabels.forEach((piece, i) => {
    if (i % rowEvery) return;
    pieceText(side, left - 6, top + i * cell + cell / 2 + 4, piece,
              { "text-anchor": "end", ...small, "data-row": i }, chars);
  });
  text(root, left, 14, colTitle + " →", { class: "axis-title" });
  const ry = top + (rows * cell) / 2;
  const fits = rowTitle.length * 7.5 <= rows * cell + 20; // else its first word only
  const tx = narrow ? 4 : 14;
  text(side, tx, ry, (fits ? rowTitle : rowTitle.split(" ")[0]) + " →",
       { transform: `rotate(90 ${tx} ${ry})`, "text-anchor": "middle", class: "axis-title" });
  if (thinned.length) {
    text(root, left, height - 4, "labels: " + thinned.map(([k, what]) => `one in ${k} ${what}`).join(", "),
         { class: "tick" });
  }
  cells(svg("g", { class: "cells" }, root), matrix, {
    x: (j) => left + j * cell, y: (i) => top + i * cell, w: cell - 1, h: cell - 1,
    describe, readout,
  });
  legend(root, left + 8, top + rows * cell + 24, barWidth - 8);
  return wrap;
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
    if (isLanguageToken(s)) th.className = "lang-token";
    if (isPlaceholder(s)) th.className = "placeholder";
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
