/* attnserve page, part 4: the translation panel (POST /translate).
 *
 * Languages: the source selector ("Detect language" sends source_lang "auto"; then every
 * language a served direction reads, by name) and the target selector (the languages the chosen source
 * is served into; every served target under "Detect language") are filled by useDirections()
 * from GET /models. The swap button turns the pair round, and is disabled when that pair is not
 * served or the source is detected.
 * The answer: the translation, the languages used, the detection with its confidence, the
 * warnings, and the beam's next-best translations ("alternatives", 0 .. beam size - 1), each
 * with its score; choosing one draws its own attention. A text of several sentences lists its
 * sentences instead (each was translated alone; choosing one draws its attention), and the
 * translation keeps the text's lines. A multilingual model reads a language
 * token first ("<2de>": write German); the heatmap and the table show it, greyed.
 * Spans that went through the model as placeholders (links, e-mail addresses, numbers, codes: pieces
 * <0x01>..<0x08>) and glossary terms are marked in the translation (<mark>, their kind and source
 * in the title) and their pieces coloured on the heatmap's axes.
 */
import * as Attn from "./heatmap.js";
import { $, fmt, postJSON, submitting, wholeNumber } from "./forms.js";
import { chosen, languageName, offerLegs, onChange } from "./views.js";

const AUTO = "auto";
const byName = (a, b) => languageName(a).localeCompare(languageName(b));
const source = $("translate-source");
const target = $("translate-target");
const swap = $("translate-swap");
const textBox = $("translate-input");
const beamBox = $("translate-beam");
const alternativesBox = $("translate-alternatives");
const glossaryBox = $("translate-glossary");
let pairs = []; // the directions served, "source-target"
let shown = null; // { answer, chosen }: the last answer, and which of its hypotheses is drawn

// ---- languages ---------------------------------------------------------------------------------

const split = (pair) => pair.split("-");

let byDefault = ["en", "fr"]; // the server's default pair: where an undetectable text goes

/** The targets the source is served into; under "Detect language" first "Automatic" (target_lang
 * omitted: the server's default source language, or for that language its default target). */
function fillTargets(keep) {
  const from = source.value;
  const targets = [...new Set(pairs.filter((p) => from === AUTO || split(p)[0] === from).map((p) => split(p)[1]))];
  const [s, t] = byDefault.map(languageName);
  const automatic = from === AUTO ? [new Option(`Automatic (${s}; ${t} for ${s} text)`, "")] : [];
  target.replaceChildren(...automatic, ...targets.sort(byName).map((code) => new Option(languageName(code), code)));
  target.value = targets.includes(keep) || (keep === "" && automatic.length) ? keep : target.options[0].value;
  updateSwap();
}

function updateSwap() {
  const [s, t] = [source.value, target.value];
  swap.disabled = s === AUTO || !pairs.includes(`${t}-${s}`);
  swap.title = s === AUTO ? "Choose the source language to swap"
    : swap.disabled ? `${languageName(t)} → ${languageName(s)} is not served`
      : `Swap: translate ${languageName(t)} into ${languageName(s)}`;
}

/** Fill both selectors from the `served` directions ("en-fr"; through English too); the source
 * detected and the target automatic at first; `preferred`: the server's default pair. */
export function useDirections(served, preferred) {
  pairs = [...new Set(served)].sort();
  if (!pairs.length) return;
  if (preferred) byDefault = split(preferred);
  const sources = [...new Set(pairs.map((p) => split(p)[0]))].sort(byName);
  source.replaceChildren(new Option("Detect language", AUTO), ...sources.map((s) => new Option(languageName(s), s)));
  source.value = AUTO;
  fillTargets("");
}

source.addEventListener("change", () => fillTargets(target.value));
target.addEventListener("change", updateSwap);
swap.addEventListener("click", () => {
  const [s, t] = [source.value, target.value];
  source.value = t;
  fillTargets(s);
  if (shown && !$("translate-result").hidden) { // the translation becomes the text to translate back
    textBox.value = shown.answer.translation;
    textBox.dispatchEvent(new Event("input"));
  }
});

// alternatives: 0 .. beam size - 1
beamBox.addEventListener("input", () => {
  const beam = Number(beamBox.value);
  const most = Number.isInteger(beam) && beam >= 1 ? Math.min(15, beam - 1) : 15;
  alternativesBox.max = most;
  if (Number(alternativesBox.value) > most) alternativesBox.value = most;
});

// ---- the answer --------------------------------------------------------------------------------

/** The score (a sum of log-probabilities) as the geometric mean probability per written piece
 * (a text of several sentences: over all their pieces). */
function confidence(r) {
  const several = (r.segments || []).length > 1;
  const n = several ? r.segments.reduce((sum, s) => sum + s.target_tokens.length, 0) : r.target_tokens.length;
  const perPiece = n ? Math.exp(r.score / n) : 0;
  const percent = `${(100 * perPiece).toFixed(perPiece < 0.995 ? 0 : 1)}%`;
  const why = `exp(log-probability ÷ pieces) = exp(${fmt(r.score)} ÷ ${n}): the geometric mean of ` +
              `the probability the model gave each of the ${n} pieces it wrote (the end of ` +
              "sentence included). It says how sure the model was, not whether it is right.";
  return { percent, why };
}

/** What can be drawn: a text of several sentences, each sentence; else the best translation,
 * then its alternatives, each with the source pieces and languages. */
function hypotheses(answer) {
  const { source_tokens, source_lang, target_lang } = answer;
  const pivotLang = answer.pivot ? answer.pivot.language : null;
  const segments = answer.segments || [];
  if (segments.length > 1) return segments.map((s) => ({ ...s, source_lang, target_lang, pivotLang }));
  const best = { ...answer, pivot: segments.length ? segments[0].pivot : null, pivotLang };
  return [best, ...(answer.alternatives || []).map((a) => ({ ...a, source_tokens, source_lang, target_lang }))];
}

const bySentence = (answer) => (answer.segments || []).length > 1;

const named = (code, side, unit) => `${code ? languageName(code) : side} ${unit}`;

/** What a piece stands for, for the cell readout: the language token, or a placeholder's span. */
function tokenNote(r, piece) {
  if (Attn.isLanguageToken(piece)) return " (the language token)";
  const held = (r.placeholders || []).find((p) => p.piece === piece);
  return held ? ` (placeholder for the ${held.kind} “${held.text}”)` : "";
}

/** Draw `r` as the view asks (words or pieces; composed or a leg): the heatmap and the table. */
function draw(r) {
  const token = (piece) => tokenNote(r, piece);
  const c = chosen(r);
  offerLegs(r.pivot ? r.pivotLang : null, r.source_lang, r.target_lang);
  Attn.heatmap($("translate-heatmap"), c.matrix, {
    rowLabels: c.rows, colLabels: c.cols,
    rowTitle: `${named(c.to, "target", c.unit)} (written)`, colTitle: `${named(c.from, "source", c.unit)} (read)`,
    label: `Attention heatmap: ${c.rows.length} target ${c.unit} by ${c.cols.length} source ${c.unit}`,
    testid: "attention-heatmap", readout: $("translate-readout"),
    describe: (i, j, v) => `“${c.rows[i]}” looked at “${c.cols[j]}”${token(c.cols[j])}: ` + v.toFixed(3),
  });
  $("translate-readout").textContent = "";
  $("translate-table").replaceChildren();
  const unit = c.unit === "words" ? "word" : "piece";
  Attn.table($("translate-table"), c.matrix, {
    caption: `Attention weight of each target ${unit} (row) on each source ${unit} (column)`,
    rowLabels: c.rows, colLabels: c.cols, corner: "target \\ source" });
}

/** Draw hypothesis `k` (0: the best) as the heatmap and the table. */
function choose(k) {
  shown.chosen = k;
  const r = hypotheses(shown.answer)[k];
  for (const button of $("translate-hypotheses").querySelectorAll("button")) {
    button.setAttribute("aria-pressed", String(Number(button.dataset.index) === k));
  }
  $("translate-showing").textContent = bySentence(shown.answer)
    ? `The heatmap shows sentence ${k + 1}: “${r.translation}”.`
    : k ? `The heatmap shows alternative ${k}: “${r.translation}”.` : "";
  draw(r);
}

function listHypotheses(answer) {
  const all = hypotheses(answer);
  $("translate-hypotheses").replaceChildren(...all.map((h, k) => {
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.index = k;
    button.setAttribute("data-testid", "hypothesis");
    const words = document.createElement("span");
    words.className = "hyp-text";
    words.textContent = h.translation || "(nothing)";
    const score = document.createElement("span");
    score.className = "hyp-score";
    const name = bySentence(answer) ? `sentence ${k + 1}` : k ? `alternative ${k}` : "best";
    score.textContent = `${name} · log-probability ${fmt(h.score)} · ${confidence(h).percent} per piece`;
    button.append(words, " ", score);
    button.addEventListener("click", () => choose(k));
    const item = document.createElement("li");
    item.append(button);
    return item;
  }));
  $("translate-alternatives-box").hidden = all.length < 2;
  $("translate-choices-hint").textContent = bySentence(answer)
    ? "The text was translated sentence by sentence, each read alone. Choose one to see its attention."
    : "What else the beam finished, best first: ranked as the beam ranks them (log-probability over a " +
      "length penalty), each with its log-probability and average per-piece probability. Choose one to " +
      "see its own attention.";
}

/** Where each placeholder's output is in a sentence's translation: [start, end, placeholder], in order. */
function placed(segment) {
  const found = [];
  for (const p of segment.placeholders || []) {
    let i = segment.translation.indexOf(p.output);
    while (i >= 0 && found.some(([a, b]) => i < b && i + p.output.length > a)) {
      i = segment.translation.indexOf(p.output, i + 1);
    }
    if (i >= 0 && p.output) found.push([i, i + p.output.length, p]);
  }
  return found.sort((x, y) => x[0] - y[0]);
}

function markFor(p) {
  const mark = document.createElement("mark");
  mark.className = p.kind === "glossary" ? "glossary-term" : "kept-span";
  mark.setAttribute("data-testid", "kept-span");
  mark.dataset.kind = p.kind;
  mark.textContent = p.output;
  mark.title = p.kind === "glossary"
    ? `glossary: “${p.text}” → “${p.output}”`
    : `${p.kind} kept from your text${p.output === p.text ? "" : ` (you wrote “${p.text}”)`}` +
      (p.dropped ? "; the model left it out, so it was put back after the word that looked at it most" : "");
  return mark;
}

/** The translation in `box`: the text sent, each sentence replaced by its translation (so its
 * lines and markers stay), placeholders and glossary terms marked. */
function showTranslation(box, answer, sent) {
  box.replaceChildren();
  let at = 0;
  for (const segment of answer.segments || []) {
    box.append(sent.slice(at, segment.start));
    let from = 0;
    for (const [a, b, p] of placed(segment)) {
      box.append(segment.translation.slice(from, a), markFor(p));
      from = b;
    }
    box.append(segment.translation.slice(from));
    at = segment.end;
  }
  box.append(sent.slice(at));
  if (box.textContent !== answer.translation) box.textContent = answer.translation;
}

/** The glossary box's lines "term = translation" -> { term: translation }; a line without "=" is an error. */
function readGlossary() {
  const glossary = {};
  glossaryBox.value.split("\n").forEach((line, k) => {
    if (!line.trim()) return;
    const at = line.indexOf("=");
    if (at < 0) throw new Error(`Glossary line ${k + 1} needs “term = translation”.`);
    glossary[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  });
  return glossary;
}

function show(answer, sent) {
  shown = { answer, chosen: 0 };
  showTranslation($("translate-output"), answer, sent);
  const { percent, why } = confidence(answer);
  const sure = $("translate-confidence");
  sure.textContent = percent;
  sure.title = why;
  $("translate-model-id").textContent = answer.model.id;
  $("translate-direction").textContent = answer.source_lang
    ? ` (${languageName(answer.source_lang)} → ${languageName(answer.target_lang)})` : "";
  const found = answer.detected;
  $("translate-detected").textContent = found
    ? `Detected: ${languageName(found.language)}, ${Math.round(100 * found.confidence)}%` : "";
  $("translate-warnings").textContent = (answer.warnings || []).join(" ");
  $("translate-pivot").textContent = answer.pivot
    ? `Through ${languageName(answer.pivot.language)}: “${answer.pivot.translation}” (no model translates ` +
      `${languageName(answer.source_lang)} into ${languageName(answer.target_lang)} directly)` : "";
  listHypotheses(answer);
  $("translate-result").hidden = false; // before drawing: the heatmap fills the room it has
  choose(0);
}

/** Lay the drawn heatmap out again (a new width). */
onChange(() => redraw());

export function redraw() {
  if (shown && !$("translate-result").hidden) draw(hypotheses(shown.answer)[shown.chosen]);
}

const form = $("translate-form");
form.addEventListener("submit", (event) => {
  event.preventDefault();
  submitting(form, $("translate-error"), $("translate-result"), async () => {
    const text = textBox.value;
    if (!text.trim()) throw new Error("Type some text to translate first.");
    const beam = wholeNumber(beamBox, 1, 16, "Beam size");
    const alternatives = wholeNumber(alternativesBox, 0, beam - 1, "Alternatives (at most beam size − 1)");
    const body = { text, beam_size: beam, attention_level: "words" };
    if (source.value) body.source_lang = source.value;
    if (target.value) body.target_lang = target.value;
    if (alternatives) body.alternatives = alternatives;
    const glossary = readGlossary();
    if (Object.keys(glossary).length) body.glossary = glossary;
    if ($("translate-numbers").checked) body.number_format = "source";
    show(await postJSON("/translate", body), text);
  });
});

// ---- the text box: the textarea's maxlength is the one place the limit is written; say it, and
// say when a paste was cut to it (the browser cuts silently)

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
