/* attnserve page, part 6: a whole file translated (POST /translate/file) -- dropped or picked, its
 * progress followed on GET /jobs/{id} when it became a job, and offered for download.
 * Reads the translation form's source and target languages. An ES module, no libraries. */
import { $, submitting } from "./forms.js";

const form = $("file-form");
const drop = $("file-drop");
const input = $("file-input");
const status = $("file-status");
const bar = $("file-progress");
const state = $("file-state");
const link = $("file-download");
let dropped = null; // a file dropped on the zone (the input cannot be set from a drop everywhere)

function show(done, total, words) {
  status.hidden = false;
  bar.max = Math.max(total, 1);
  bar.value = done;
  state.textContent = words;
}

/** The file's name from Content-Disposition (filename*=UTF-8''..., else filename="..."). */
function nameOf(response, fallback) {
  const header = response.headers.get("content-disposition") || "";
  const utf = /filename\*=UTF-8''([^;]+)/i.exec(header);
  if (utf) return decodeURIComponent(utf[1]);
  const plain = /filename="([^"]+)"/i.exec(header);
  return plain ? plain[1] : fallback;
}

function offer(blob, name) {
  if (link.href) URL.revokeObjectURL(link.href);
  link.href = URL.createObjectURL(blob);
  link.download = name;
  link.textContent = `Download ${name}`;
  link.hidden = false;
}

async function failure(response) {
  let said = response.statusText;
  try { said = (await response.json()).message || said; } catch (err) { /* not JSON */ }
  return new Error(`The server could not translate the file (${response.status}): ${said}`);
}

/** Follow a job until it is done (then download its file) or failed. */
async function follow(location, fallback) {
  for (;;) {
    const response = await fetch(location);
    if (!response.ok) throw await failure(response);
    const job = await response.json();
    const eta = job.eta_seconds == null ? "" : `, about ${Math.ceil(job.eta_seconds)} s left`;
    show(job.blocks_done, job.blocks_total, `${job.status}: ${job.blocks_done} of ${job.blocks_total} blocks${eta}`);
    if (job.status === "failed") throw new Error(`The job failed: ${job.error}`);
    if (job.status === "done") {
      const result = await fetch(job.result_url);
      if (!result.ok) throw await failure(result);
      offer(await result.blob(), nameOf(result, fallback));
      state.textContent = `Done: ${job.blocks_total} blocks translated.`;
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

async function send() {
  const file = dropped || input.files[0];
  if (!file) throw new Error("Pick or drop a file first.");
  const body = new FormData();
  body.append("file", file, file.name);
  const source = $("translate-source").value;
  const target = $("translate-target").value;
  if (source) body.append("source_lang", source);
  if (target) body.append("target_lang", target);
  link.hidden = true;
  show(0, 1, `Sending ${file.name}...`);
  let response;
  try {
    response = await fetch("/translate/file", { method: "POST", body });
  } catch (err) {
    throw new Error(`Could not reach the server (${err.message}). Is it still running?`);
  }
  if (response.status === 202) {
    await follow(response.headers.get("location"), file.name);
  } else if (response.ok) {
    offer(await response.blob(), nameOf(response, file.name));
    show(1, 1, `Done: ${file.name} translated.`);
  } else {
    status.hidden = true;
    throw await failure(response);
  }
}

export function setUp() {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submitting(form, $("translate-error"), status, send);
  });
  input.addEventListener("change", () => { dropped = null; });
  for (const name of ["dragenter", "dragover"]) {
    drop.addEventListener(name, (event) => { event.preventDefault(); drop.classList.add("over"); });
  }
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    const file = event.dataTransfer && event.dataTransfer.files[0];
    if (file) {
      dropped = file;
      state.textContent = `Ready: ${file.name}`;
      status.hidden = false;
    }
  });
}
