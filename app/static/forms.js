/* attnserve page, part 3: what both panels' forms share (an ES module, no libraries).
 *
 * $(id)                         document.getElementById
 * postJSON(path, body), post(path, init)   POST to this server; an error worded for people
 * submitting(form, errorBox, result, work) run `work` with the form busy, its error shown
 * wholeNumber(input, lo, hi, what)         the input's whole number, else an error saying the range
 */
export const $ = (id) => document.getElementById(id);
export const fmt = (v) => v.toFixed(2);

/** POST JSON; resolves with the answer, or rejects with an Error worded for people. */
export function postJSON(path, body) {
  return post(path, { body: JSON.stringify(body), headers: { "content-type": "application/json" } });
}

/** POST `init`'s body; resolves with the JSON answer, or rejects with an Error worded for people. */
export async function post(path, init) {
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
export async function submitting(form, errorBox, result, work) {
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

export function wholeNumber(input, lo, hi, what) {
  const v = Number(input.value);
  if (!Number.isInteger(v) || v < lo || (hi !== undefined && v > hi)) {
    throw new Error(`${what} must be a whole number ${hi === undefined ? `of at least ${lo}`
                                                                        : `from ${lo} to ${hi}`}.`);
  }
  return v;
}
