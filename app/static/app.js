/* attnserve page, part 5: the forecast panel, and what both panels share (the page's one module
 * script). Talks to POST /forecast, POST /forecast/csv, GET /models and GET /languages of the same
 * server; the translation panel is translate.js; draws with heatmap.js and chart.js.
 */
import * as Attn from "./heatmap.js";
import * as ForecastChart from "./chart.js";
import * as Translate from "./translate.js";
import * as Files from "./files.js";
import { $, fmt, post, postJSON, submitting, wholeNumber } from "./forms.js";

const shown = { forecast: null }; // the last forecast answer, redrawn on resize

// ---- forecast: example series ---------------------------------------------------------------

/** A deterministic daily price path: seeded normal log returns, optional pull to the start. */
function series(seed, n, start, drift, vol, pull = 0) {
  let s = seed >>> 0;
  const uniform = () => { // mulberry32
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const normal = () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
  const anchor = Math.log(start);
  let logp = anchor;
  const out = [];
  for (let i = 0; i < n; i++) {
    out.push(Math.round(Math.exp(logp) * 100) / 100);
    logp += drift + vol * normal() - pull * (logp - anchor);
  }
  return out;
}

const EXAMPLES = [
  { id: "steady", label: "Steady riser, 120 days", prices: series(7, 120, 100, 0.0008, 0.009) },
  { id: "range", label: "Choppy range, 120 days", prices: series(11, 120, 48, 0, 0.014, 0.08) },
  { id: "volatile", label: "Volatile, 120 days", prices: series(23, 120, 260, -0.0015, 0.024) },
];
const exampleSelect = $("forecast-example");
const pricesBox = $("forecast-prices");
for (const ex of [...EXAMPLES, { id: "custom", label: "Your own prices (paste below)" }]) {
  exampleSelect.add(new Option(ex.label, ex.id));
}
const useExample = () => {
  const ex = EXAMPLES.find((e) => e.id === exampleSelect.value);
  if (ex) pricesBox.value = ex.prices.join(", ");
};
exampleSelect.addEventListener("change", useExample);
pricesBox.addEventListener("input", () => { exampleSelect.value = "custom"; });
useExample();

function parsePrices(raw) {
  const parts = raw.split(/[\s,;]+/).filter(Boolean);
  if (!parts.length) throw new Error("Paste some prices, or pick an example series.");
  const bad = parts.find((p) => !Number.isFinite(Number(p)));
  if (bad !== undefined) {
    throw new Error(`“${bad.slice(0, 20)}” is not a number. Separate prices with commas, spaces ` +
                    "or new lines, and write decimals with a point (101.5).");
  }
  return parts.map(Number);
}

/** How far each day ahead's attention is from uniform, in words (the answer's uniformity). */
function uniformityText(r) {
  const u = r.attention_uniformity;
  const each = u.map((v, k) => `+${k + 1} ${v.toFixed(2)}`).join(", ");
  const flat = Math.min(...u) >= 0.95
    ? ` Nearly uniform: the model weighs all ${r.window} days almost alike and points at none.` : "";
  return `Attention uniformity per day ahead (1 = uniform, every day 1/${r.window}; 0 = all on ` +
         `one day): ${each}.${flat}`;
}

/** Why the intervals are as wide as they are (the answer's `width`, for a model whose attention
 * makes the width): the first and the last step's heaviest days. */
function widthText(r) {
  if (!r.width || !r.width.length) return "";
  const steps = r.width.length > 1 ? [r.width[0], r.width[r.width.length - 1]] : [r.width[0]];
  return " Why the interval is this wide: " + steps.map((w) => `+${w.step}: ${w.summary}`).join("; ") +
         ". The ringed prices on the chart are the +1 step's days.";
}

function showForecast(prices, r) {
  const H = r.forecast.length;
  const pct = Math.round(r.interval * 100);
  const when = r.dates ? ` (${r.dates[H - 1]}, ${r.calendar} sessions)` : "";
  const read = r.file
    ? `The model read the newest ${r.window} of the ${r.file.rows} rows of ${r.ticker || "the file"} ` +
      `(${r.file.close_column}, up to ${r.file.dates[r.file.dates.length - 1]})`
    : `The model read the last ${r.window} of your ${prices.length} prices`;
  $("forecast-summary").textContent =
    `Median in ${H} trading day${H > 1 ? "s" : ""}${when}: ${fmt(r.forecast[H - 1])} ` +
    `(${pct}% interval ${fmt(r.lower[H - 1])} to ${fmt(r.upper[H - 1])}); naive forecast ` +
    `${fmt(r.baseline.naive[H - 1])}. ${read} (model ${r.model.id}).`;
  $("forecast-warnings").textContent = r.warnings && r.warnings.length
    ? "Read with warnings: " + r.warnings.join("; ") : "";
  $("forecast-uniformity").textContent = uniformityText(r) + widthText(r);
  $("forecast-result").hidden = false; // before drawing: the chart takes the width it has
  drawForecast(prices, r);
  $("forecast-readout").textContent = "";
  const tables = $("forecast-table");
  tables.replaceChildren();
  const days = r.forecast.map((_, k) => `+${k + 1}`);
  Attn.table(tables, r.forecast.map((m, k) => [m, r.lower[k], r.upper[k], r.baseline.naive[k]]), {
    caption: "Forecast by day ahead", rowLabels: days, corner: "day",
    colLabels: ["median", `lower (${pct}%)`, `upper (${pct}%)`, "naive"] });
  Attn.table(tables, r.attention, {
    caption: "Attention of each day ahead (row) over the window (column: day, 0 = last price)",
    rowLabels: days, corner: "day ahead",
    colLabels: r.attention[0].map((_, j) => String(j - r.window + 1)) });
}

function drawForecast(prices, r) {
  ForecastChart.draw($("forecast-plot"), prices, r,
                     { label: $("forecast-summary").textContent, readout: $("forecast-readout") });
}

const forecastForm = $("forecast-form");
forecastForm.addEventListener("submit", (event) => {
  event.preventDefault();
  submitting(forecastForm, $("forecast-error"), $("forecast-result"), async () => {
    const prices = parsePrices(pricesBox.value);
    const horizon = wholeNumber($("forecast-horizon"), 1, undefined, "Horizon");
    const interval = Number($("forecast-interval").value);
    const r = await postJSON("/forecast", { prices, horizon, interval });
    shown.forecast = [prices, r];
    showForecast(prices, r);
  });
});

// ---- forecast: a price file (POST /forecast/csv) -------------------------------------------------

const fileForm = $("forecast-file-form");
fileForm.addEventListener("submit", (event) => {
  event.preventDefault();
  submitting(fileForm, $("forecast-error"), $("forecast-result"), async () => {
    const file = $("forecast-file").files[0];
    if (!file) throw new Error("Choose a CSV file first.");
    const query = new URLSearchParams({
      horizon: wholeNumber($("forecast-horizon"), 1, undefined, "Horizon"),
      interval: $("forecast-interval").value,
    });
    const ticker = $("forecast-ticker").value.trim();
    if (ticker) query.set("ticker", ticker);
    const form = new FormData();
    form.append("file", file);
    const r = await post(`/forecast/csv?${query}`, { body: form });
    pricesBox.value = r.file.close.join(", "); // the price box shows what was forecast
    exampleSelect.value = "custom";
    shown.forecast = [r.file.close, r];
    showForecast(r.file.close, r);
  });
});

// ---- a Kaggle file of several tickers: offer them (the Name column, read in the browser) ----------

/** The distinct values of a CSV's Name column (Kaggle's ticker column), in file order; [] without one. */
function tickersOf(text) {
  const lines = text.split(/\r?\n/);
  const header = lines[0].replace(/^\uFEFF/, "").split(",").map((h) => h.trim().toLowerCase());
  const at = header.indexOf("name");
  if (at < 0) return [];
  const seen = new Set();
  for (const line of lines.slice(1)) {
    const value = (line.split(",")[at] || "").trim();
    if (value) seen.add(value);
  }
  return [...seen];
}

$("forecast-file").addEventListener("change", async () => {
  const file = $("forecast-file").files[0];
  const list = $("forecast-tickers");
  list.replaceChildren();
  $("forecast-ticker-hint").textContent = "";
  if (!file) return;
  const tickers = tickersOf(await file.text());
  list.append(...tickers.map((t) => new Option(t, t)));
  if (tickers.length > 1) {
    $("forecast-ticker-hint").textContent = `${tickers.length} tickers in this file: type or pick one.`;
    if (!tickers.includes($("forecast-ticker").value.trim())) $("forecast-ticker").value = tickers[0];
  }
});

// ---- a new width (a phone turned, a window resized): lay both plots out again -----------------

let lastWidth = document.documentElement.clientWidth;
window.addEventListener("resize", () => {
  if (document.documentElement.clientWidth === lastWidth) return;
  lastWidth = document.documentElement.clientWidth;
  requestAnimationFrame(() => {
    Translate.redraw();
    if (shown.forecast && !$("forecast-result").hidden) drawForecast(...shown.forecast);
  });
});

// ---- what is served: the translation directions, the hints and the horizon limit -------------

const getJSON = (path) => fetch(path).then((r) => (r.ok ? r.json() : null)).catch(() => null);

Files.setUp();

Promise.all([getJSON("/models"), getJSON("/languages")]).then(([models, languages]) => {
  const directions = [];
  for (const m of models || []) {
    if (m.task === "translation") {
      const served = m.directions || (m.languages ? [`${m.languages.source}-${m.languages.target}`] : []);
      directions.push(...served);
      $("translate-model").append(` Served: ${m.id} (${served.map((d) => d.replace("-", " → ")).join(", ")}).`);
    } else if (m.task === "forecast") {
      const { lookback, horizon } = m.architecture;
      const input = $("forecast-horizon");
      input.max = horizon;
      if (Number(input.value) > horizon) input.value = horizon;
      $("forecast-model").append(` Served: ${m.id}, which reads the last ${lookback} prices and ` +
                                 `forecasts up to ${horizon} days ahead.`);
    }
  }
  if (languages && languages.directions) { // every pair served, those through English included
    directions.splice(0, directions.length, ...languages.directions.map((d) => `${d.source}-${d.target}`));
  }
  const preferred = languages && languages.default;
  Translate.useDirections(directions, preferred ? `${preferred.source}-${preferred.target}` : "en-fr");
}); // the hints are optional; without them the server's default pair is used
