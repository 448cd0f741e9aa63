/* attnserve page, part 6: what the translation heatmap shows.
 *
 * Words (the default) or subword pieces: the answer carries both (attention_level "words"); a
 * target word's row is the mean of its pieces' rows and a source word's column the sum of its
 * pieces' columns, so rows still sum to 1. For a pair translated through English, the composed
 * attention (from the target back to the source: the product of the two legs' matrices) or
 * either leg. The buttons keep their choice from one answer to the next.
 */
import { $ } from "./forms.js";

const NAMES = { en: "English", fr: "French", de: "German", es: "Spanish" };
export const languageName = (code) => NAMES[code] || code;

export const view = { level: "words", leg: 0 };
let redrawn = () => {};

/** What to draw of hypothesis `r` (its `pivot`: the legs, when it went through English). */
export function chosen(r) {
  const leg = view.leg && r.pivot ? r.pivot.legs[view.leg - 1] : null;
  const m = leg || r;
  const words = view.level === "words" && m.words;
  const via = r.pivot ? r.pivotLang : null;
  const [from, to] = !leg ? [r.source_lang, r.target_lang] : view.leg === 1 ? [r.source_lang, via] : [via, r.target_lang];
  return {
    matrix: words ? m.words.attention : m.attention,
    rows: words ? m.words.target : m.target_tokens,
    cols: words ? m.words.source : m.source_tokens,
    unit: words ? "words" : "pieces",
    from, to,
  };
}

function press(group, value, attr) {
  for (const b of group.querySelectorAll("button")) b.setAttribute("aria-pressed", String(b.dataset[attr] === value));
}

/** Offer the legs when the drawn answer went through `via` (null: one model) from `from` to `to`. */
export function offerLegs(via, from, to) {
  const box = $("translate-legs");
  box.hidden = !via;
  $("translate-pivot").hidden = !via;
  if (!via) { view.leg = 0; return; }
  const [composed, first, second] = box.querySelectorAll("button");
  composed.textContent = `${languageName(from)} → ${languageName(to)} (composed)`;
  first.textContent = `${languageName(from)} → ${languageName(via)}`;
  second.textContent = `${languageName(via)} → ${languageName(to)}`;
  press(box, String(view.leg), "leg");
}

/** `draw()` redraws with the chosen view. */
export function onChange(draw) {
  redrawn = draw;
}

for (const b of $("translate-levels").querySelectorAll("button")) {
  b.addEventListener("click", () => { view.level = b.dataset.level; press($("translate-levels"), view.level, "level"); redrawn(); });
}
for (const b of $("translate-legs").querySelectorAll("button")) {
  b.addEventListener("click", () => { view.leg = Number(b.dataset.leg); press($("translate-legs"), b.dataset.leg, "leg"); redrawn(); });
}
press($("translate-levels"), view.level, "level");
