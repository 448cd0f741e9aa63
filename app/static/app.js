/* attnserve page, part 3: the translation and forecast panels (the page's one module script).
 * Talks to POST /translate, POST /forecast, POST /forecast/csv and GET /models of the same
 * server; draws with heatmap.js and chart.js.
 */
import * as Attn from "./heatmap.js";
import * as ForecastChart from "./chart.js";

const $ = (id) => document.getElementById(id);
const fmt = (v) => v.toFixed(2);
const shown = { translation: null, forecast: null }; // the last answers, redrawn on resize

/** POST JSON; resolves with the answer, or rejects with an Error worded for people. */
function postJSON(path, body) {
  return post(path, { body: JSON.stringify(body), headers: { "content-type": "application/json" } });
}

/** POST `init`'s body; resolves with the JSON answer, or rejects with an Error worded for people. */
async function post(path, init) {
  let response;
  try {
    response = await fetch(path, { method: "POST", ...init });
  } catch (err) {
    throw new Error(`Could not reach the server (${err.message}). Is it still running?`);
  }
  let data = null;
  try { data = await response.json(); } catch (err) { /* not JSON: say the status instead */ }
  if (!response.ok) {
    const said = data && typeof data.message === "string" ? data.message : response.statusText;
    // the API names fields like "body.prices" or "query.ticker"; people only need "prices"
    throw new Error(`The server could not do that (${response.status}): ` +
                    said.replace(/\b(body|query)\./g, "").replace(/^body: /, ""));
  }
  return data;
}

/** Run `work` with the form's button disabled; show any error in `errorBox` (role=alert). */
async function submitting(form, errorBox, result, work) {
  const button = form.querySelector("button[type=submit]");
  errorBox.textContent = "";
  button.disabled = true;
  form.setAttribute("aria-busy", "true");
  try {
    await work();
  } catch (err) {
    result.hidden = true;
    errorBox.textContent = err.message;
  } finally {
    button.disabled = false;
    form.removeAttribute("aria-busy");
  }
}

function wholeNumber(input, lo, hi, what) {
  const v = Number(input.value);
  if (!Number.isInteger(v) || v < lo || (hi !== undefined && v > hi)) {
    throw new Error(`${what} must be a whole number ${hi === undefined ? `of at least ${lo}`
                                                                        : `from ${lo} to ${hi}`}.`);
  }
  return v;
}

// ---- translation -------------------------------------------------------------------------

/** The score (a sum of log-probabilities) as the geometric mean probability per written piece. */
function confidence(r) {
  const n = r.target_tokens.length;
  const perPiece = n ? Math.exp(r.score / n) : 0;
  const percent = `${(100 * perPiece).toFixed(perPiece < 0.995 ? 0 : 1)}%`;
  const why = `exp(log-probability ÷ pieces) = exp(${fmt(r.score)} ÷ ${n}): the geometric mean of ` +
              `the probability the model gave each of the ${n} pieces it wrote (the end of ` +
              "sentence included). It says how sure the model was, not whether it is right.";
  return { percent, why };
}

function drawTranslation(r) {
  Attn.heatmap($("translate-heatmap"), r.attention, {
    rowLabels: r.target_tokens, colLabels: r.source_tokens,
    rowTitle: "target pieces (written)", colTitle: "source pieces (read)",
    label: `Attention heatmap: ${r.target_tokens.length} target pieces by ` +
           `${r.source_tokens.length} source pieces`,
    testid: "attention-heatmap", readout: $("translate-readout"),
    describe: (i, j, v) => `“${r.target_tokens[i]}” looked at “${r.source_tokens[j]}”: ${v.toFixed(3)}`,
  });
}

function showTranslation(r) {
  $("translate-output").textContent = r.translation;
  const { percent, why } = confidence(r);
  const sure = $("translate-confidence");
  sure.textContent = percent;
  sure.title = why;
  $("translate-model-id").textContent = r.model.id;
  $("translate-result").hidden = false; // before drawing: the heatmap fills the room it has
  drawTranslation(r);
  $("translate-readout").textContent = "";
  $("translate-table").replaceChildren();
  Attn.table($("translate-table"), r.attention, {
    caption: "Attention weight of each target piece (row) on each source piece (column)",
    rowLabels: r.target_tokens, colLabels: r.source_tokens, corner: "target \\ source" });
}

const translateForm = $("translate-form");
translateForm.addEventListener("submit", (event) => {
  event.preventDefault();
  submitting(translateForm, $("translate-error"), $("translate-result"), async () => {
    const text = $("translate-input").value;
    if (!text.trim()) throw new Error("Type some text to translate first.");
    const beam = wholeNumber($("translate-beam"), 1, 16, "Beam size");
    shown.translation = await postJSON("/translate", { text, beam_size: beam });
    showTranslation(shown.translation);
  });
});

// the textarea's maxlength is the one place the limit is written; say it, and say when a paste
// was cut to it (the browser cuts silently)
const textBox = $("translate-input");
const countText = () => {
  $("translate-count").textContent = `${textBox.value.length} / ${textBox.maxLength} characters`;
};
textBox.addEventListener("paste", (event) => {
  const pasted = event.clipboardData ? event.clipboardData.getData("text/plain") : "";
  const selected = textBox.selectionEnd - textBox.selectionStart;
  const room = textBox.maxLength - (textBox.value.length - selected);
  const lost = pasted.length - Math.max(0, room);
  $("translate-cut").textContent = lost > 0
    ? `Your paste was cut: the box takes at most ${textBox.maxLength} characters, so the last ` +
      `${lost} of the ${pasted.length} you pasted were left out.` : "";
});
textBox.addEventListener("input", (event) => {
  if (event.inputType !== "insertFromPaste") $("translate-cut").textContent = "";
  countText();
});
countText();

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
  $("forecast-uniformity").textContent = uniformityText(r);
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
    shown.forecast = [r.file.close, r];
    showForecast(r.file.close, r);
  });
});

// ---- a new width (a phone turned, a window resized): lay both plots out again -----------------

let lastWidth = document.documentElement.clientWidth;
window.addEventListener("resize", () => {
  if (document.documentElement.clientWidth === lastWidth) return;
  lastWidth = document.documentElement.clientWidth;
  requestAnimationFrame(() => {
    if (shown.translation && !$("translate-result").hidden) drawTranslation(shown.translation);
    if (shown.forecast && !$("forecast-result").hidden) drawForecast(...shown.forecast);
  });
});

// ---- what is served: fill in the hints and the horizon limit -----------------------------------

fetch("/models").then((r) => (r.ok ? r.json() : [])).then((models) => {
  for (const m of models) {
    if (m.task === "translation" && m.languages) {
      $("translate-model").append(` Served: ${m.id} (${m.languages.source} → ${m.languages.target}).`);
    } else if (m.task === "forecast") {
      const { lookback, horizon } = m.architecture;
      const input = $("forecast-horizon");
      input.max = horizon;
      if (Number(input.value) > horizon) input.value = horizon;
      $("forecast-model").append(` Served: ${m.id}, which reads the last ${lookback} prices and ` +
                                 `forecasts up to ${horizon} days ahead.`);
    }
  }
}).catch(() => { /* the hints are optional; a failed submit says what is wrong */ });
