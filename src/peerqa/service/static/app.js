// peerqa chat page: ask, watch the cited answer stream in, read each source in context.
// Rule of the house: text from the evidence or the service is only ever set through
// textContent / createElement, never parsed as HTML.

const ROLE_WORDS = {
  programme_leader: "programme leader",
  peer_supporter: "peer supporter",
  peer_recipient: "peer recipient",
};
// Plain words for a passage's kind; an ordinary paragraph needs no label.
const KIND_WORDS = {
  quote: "Interview quote",
  table_row: "Table row",
  reference: "Reference",
  list_item: "List",
};
const STORAGE_KEY = "peerqa.conversation.v1";
const KEPT_TURNS = 30; // what a reload restores; the service keeps its own, shorter history
const STANCES = ["benefit", "challenge", "mitigation"];
const PROGRAMME_LETTERS = ["A", "B", "C", "D", "E", "F", "G"];
const FILTER_KEYS = ["stance", "programme", "role"];

const state = {
  sessionId: null,
  turns: [], // finished turns, {question, filters, body}: what a reload restores
  documents: new Map(), // document id -> its study {title, authors, year, journal, doi}
  filters: { stance: new Set(), programme: new Set(), role: new Set() },
  programmes: new Map(), // letter -> {programme, condition, setting, ...}
  busy: false,
  controller: null, // aborts the in-flight answer on "New conversation"
  passages: new Map(), // id -> Promise<passage>, so re-opening is instant
  panelToken: 0, // ignores late responses when the reader has moved on
  panelTrigger: null,
  panelPrev: null,
  panelNext: null,
  challengesLoaded: false,
};

const $ = (id) => document.getElementById(id);

// Conditional parts leave null/undefined/false behind; they render as nothing.
const present = (child) => child !== null && child !== undefined && child !== false;

/** replaceChildren, skipping absent parts. */
function fill(node, ...children) {
  node.replaceChildren(...children.flat().filter(present));
}

/** createElement with attributes and children; strings become text nodes. */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (!present(value)) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat().filter(present)) {
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const capitalise = (s) => (s ? s[0].toUpperCase() + s.slice(1) : s);

/** "programme leader, Programme F" (either half may be missing). */
function attribution(p) {
  const parts = [];
  if (p.role) parts.push(ROLE_WORDS[p.role] ?? p.role);
  if (p.programme) parts.push(`Programme ${p.programme}`);
  return parts.join(", ");
}

function programmeCondition(letter) {
  return state.programmes.get(letter)?.condition ?? null;
}

// --- studies and plain-word labels ----------------------------------------------------

/** The study a passage comes from: the citation's own `study` when the service sends one,
 * else its document's metadata from /v1/documents. */
function studyOf(p) {
  return p.study ?? state.documents.get(p.document) ?? null;
}

/** "Joo JH" / "Joo, J. H." / "Jae Hee Joo" (or {family: "Joo"}) -> "Joo". */
function surname(author) {
  const name = String(typeof author === "string" ? author : (author?.family ?? author?.name ?? "")).trim();
  if (!name) return "";
  if (name.includes(",")) return name.split(",")[0].trim();
  const parts = name.split(/\s+/);
  const initials = /^[A-Z]{1,3}$/.test(parts.at(-1).replace(/[.-]/g, ""));
  // "Jacob Andrews.": a list's closing period is not the name's
  return parts.length > 1 && initials ? parts.slice(0, -1).join(" ") : parts.at(-1).replace(/\.+$/, "");
}

/** "Joo et al. 2022, Family Practice"; the document id when nothing is known. */
function studyLabel(p) {
  const study = studyOf(p);
  if (!study) return p.document;
  const names = (Array.isArray(study.authors) ? study.authors : []).map(surname).filter(Boolean);
  let who = names.length > 2 ? `${names[0]} et al.` : names.join(" and ");
  if (!who && study.title) who = study.title.length > 60 ? `${study.title.slice(0, 59).trimEnd()}…` : study.title;
  const head = [who || p.document, study.year].filter(Boolean).join(" ");
  return [head, study.journal].filter(Boolean).join(", ");
}

/** "Results > Matching" -> "Results, “Matching”". */
function sectionWords(section) {
  const parts = (section ?? "").split(/\s+>\s+/).filter(Boolean);
  return parts.length > 1 ? `${parts[0]}, “${parts.at(-1)}”` : (parts[0] ?? "");
}

/** Where in the study a passage stands, in words: "Interview quote from a peer supporter
 * (Programme D), Table 3" or "Results, “Matching”". */
function whereWords(p) {
  const where = sectionWords(p.section);
  if (p.kind === "quote") {
    const who = p.role ? ` from a ${ROLE_WORDS[p.role] ?? p.role}` : "";
    const programme = p.programme ? ` (Programme ${p.programme})` : "";
    return `Interview quote${who}${programme}${where ? `, ${where}` : ""}`;
  }
  if (p.kind === "table_row") return where ? `Row of ${where}` : "Table row";
  if (p.kind === "reference") return "Reference list";
  if (p.kind === "list_item") return where ? `List in ${where}` : "List";
  return where || "Text";
}

async function loadDocuments() {
  try {
    for (const d of await getJSON("/v1/documents")) {
      const derived = { title: d.title, authors: d.authors, year: d.year, journal: d.journal, doi: d.doi ?? null };
      state.documents.set(d.id, d.study ?? derived);
    }
  } catch {
    /* labels fall back to the document id */
  }
}

// --- the cited sentence ----------------------------------------------------------------

const escapeRegExp = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const ENDS_SENTENCE = /[.!?:;]["”’)\]]*$/;

/** Where `sentence` stands in `text` ({start, end}), or null. Whitespace may differ, and
 * when the whole is not found its leading sentences are dropped one by one: an unmarked
 * caveat or heading can precede the cited sentence in the answer. */
function locate(sentence, text) {
  let words = sentence.replace(/^[\s…]+|[\s…]+$/g, "").split(/\s+/).filter(Boolean);
  while (words.length) {
    const match = new RegExp(words.map(escapeRegExp).join("\\s+")).exec(text);
    if (match) return { start: match.index, end: match.index + match[0].length };
    const cut = words.findIndex((w, i) => i < words.length - 1 && ENDS_SENTENCE.test(w));
    if (cut === -1) return null;
    words = words.slice(cut + 1);
  }
  return null;
}

/** `text` as nodes, the spans at `ranges` in <mark class="cited">. */
function markedText(text, ranges) {
  const sorted = ranges.filter(Boolean).sort((a, b) => a.start - b.start);
  const nodes = [];
  let at = 0;
  for (const { start, end } of sorted) {
    if (start < at) continue; // overlaps the previous mark
    nodes.push(text.slice(at, start), el("mark", { class: "cited" }, text.slice(start, end)));
    at = end;
  }
  nodes.push(text.slice(at));
  return nodes.filter((n) => n !== "");
}

/** The answer's sentence(s) before each marker: marker -> [sentence, ...]. Consecutive
 * markers ("… [1] [2]") share the sentence before the first. */
function citedSentences(answer) {
  const byMarker = new Map();
  for (const line of answer.split("\n")) {
    let last = 0;
    let previous = "";
    for (const match of line.matchAll(/\[(\d+)\]/g)) {
      const sentence = line.slice(last, match.index).trim() || previous;
      if (sentence) byMarker.set(match[0], [...(byMarker.get(match[0]) ?? []), sentence]);
      previous = sentence;
      last = match.index + match[0].length;
    }
  }
  return byMarker;
}

/** The source list's snippet: the cited sentence(s) of the passage, not its opening. */
function snippet(c, sentences) {
  const ranges = (sentences ?? []).map((s) => locate(s, c.text)).filter(Boolean);
  if (!ranges.length) return [c.text];
  ranges.sort((a, b) => a.start - b.start);
  const parts = [];
  let at = 0;
  for (const r of ranges) {
    if (r.start < at) continue;
    if (r.start > at) parts.push("… ");
    parts.push(el("mark", { class: "cited" }, c.text.slice(r.start, r.end)));
    at = r.end;
  }
  if (at < c.text.trimEnd().length) parts.push(" …");
  return parts;
}

// --- the conversation, kept across reloads ------------------------------------------------

function saveConversation() {
  try {
    if (!state.turns.length) localStorage.removeItem(STORAGE_KEY);
    else localStorage.setItem(STORAGE_KEY, JSON.stringify({ sessionId: state.sessionId, turns: state.turns.slice(-KEPT_TURNS) }));
  } catch {
    /* storage full or disabled: the conversation still works, it will not survive a reload */
  }
}

/** A saved turn this page can show again (storage is the user's to edit, and outlives
 * versions of this page). */
const restorable = (t) =>
  typeof t?.question === "string" && typeof t.body?.answer === "string" && Array.isArray(t.body.citations);

function savedConversation() {
  try {
    const saved = JSON.parse(localStorage.getItem(STORAGE_KEY));
    if (Array.isArray(saved?.turns) && saved.turns.every(restorable)) {
      return { sessionId: typeof saved.sessionId === "string" ? saved.sessionId : null, turns: saved.turns };
    }
  } catch {
    /* nothing usable saved */
  }
  return null;
}

// --- HTTP ---------------------------------------------------------------------------

class RequestError extends Error {}

/** A sentence a clinician can act on, for a failed response. */
async function describeFailure(response) {
  let detail = null;
  try {
    detail = (await response.json()).detail;
  } catch {
    /* not JSON: fall back to the status alone */
  }
  const status = response.status;
  if (status === 429) {
    const wait = Number(response.headers.get("retry-after"));
    const when = wait > 0 ? `in ${Math.ceil(wait)} seconds` : "in a moment";
    return `Too many questions in a short time. Please try again ${when}.`;
  }
  if (status === 413) return "That question is too long to send. Please shorten it and try again.";
  if (status === 422) return `The request was not accepted: ${describeDetail(detail)}`;
  if (status === 404) return `Not found: ${describeDetail(detail) || "the service does not offer this"}.`;
  if (status === 503) return "The evidence index is not ready yet. Please try again shortly.";
  if (status >= 500) return `The evidence service had a problem (error ${status}). Please try again.`;
  return `The request failed (error ${status}). ${describeDetail(detail)}`.trim();
}

function describeDetail(detail) {
  if (!detail) return "";
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail
      .map((d) => {
        const where = (d.loc ?? []).filter((part) => part !== "body").join(" › ");
        return where ? `${where}: ${d.msg}` : d.msg;
      })
      .join("; ");
  }
  return JSON.stringify(detail);
}

async function getJSON(url) {
  let response;
  try {
    response = await fetch(url, { headers: { accept: "application/json" } });
  } catch {
    throw new RequestError("Could not reach the evidence service. Check the connection and try again.");
  }
  if (!response.ok) throw new RequestError(await describeFailure(response));
  return response.json();
}

/** Server-sent events from a fetch body: yields {event, data}. */
async function* readEvents(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (value) buffer = (buffer + value).replace(/\r\n/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) !== -1) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (!line || line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon === -1 ? line : line.slice(0, colon);
        const val = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") event = val;
        else if (field === "data") data.push(val);
      }
      if (data.length) yield { event, data: data.join("\n") };
    }
    if (done) return;
  }
}

/** A delta's text, whether sent as a JSON string, a JSON object or raw text. */
function deltaText(data) {
  try {
    const value = JSON.parse(data);
    if (typeof value === "string") return value;
    if (value && typeof value === "object") return value.text ?? value.delta ?? value.content ?? "";
  } catch {
    /* raw text */
  }
  return data;
}

function passage(id) {
  if (!state.passages.has(id)) {
    const request = getJSON(`/v1/passages/${encodeURIComponent(id)}`);
    request.catch(() => state.passages.delete(id)); // let a later click retry
    state.passages.set(id, request);
  }
  return state.passages.get(id);
}

// --- filters ------------------------------------------------------------------------

function chip(key, value, label, title) {
  return el(
    "button",
    {
      type: "button",
      class: "chip",
      "aria-pressed": "false",
      dataset: { key, value },
      title,
      onclick: (event) => toggleFilter(event.currentTarget),
    },
    label,
  );
}

function renderFilterChips() {
  fill($("chips-stance"), ...STANCES.map((s) => chip("stance", s, capitalise(s))));
  fill(
    $("chips-role"),
    ...Object.entries(ROLE_WORDS).map(([value, words]) => chip("role", value, capitalise(words))),
  );
  renderProgrammeChips();
}

function renderProgrammeChips() {
  const chips = PROGRAMME_LETTERS.map((letter) => {
    const info = state.programmes.get(letter);
    const label = info?.condition ? [el("b", {}, letter), ` ${shortCondition(info.condition)}`] : `Programme ${letter}`;
    const title = info
      ? `Programme ${letter}: ${info.condition}${info.setting ? ` (${info.setting})` : ""}`
      : `Programme ${letter}`;
    const node = chip("programme", letter, label, title);
    node.setAttribute("aria-label", title);
    node.setAttribute("aria-pressed", String(state.filters.programme.has(letter)));
    return node;
  });
  fill($("chips-programme"), ...chips);
}

/** Chip-sized condition: the table's wording up to its first clause. */
function shortCondition(condition) {
  const first = condition.split(/[;(]/)[0].replace(/\s+(community|hospital)-based.*$/i, "").trim();
  return first.length > 28 ? `${first.slice(0, 27).trimEnd()}…` : first;
}

async function loadProgrammes() {
  try {
    const list = await getJSON("/v1/programmes");
    for (const p of list) state.programmes.set(p.programme, p);
    renderProgrammeChips();
  } catch {
    /* letters alone still filter correctly */
  }
}

function toggleFilter(button) {
  const { key, value } = button.dataset;
  const set = state.filters[key];
  if (set.has(value)) set.delete(value);
  else set.add(value);
  button.setAttribute("aria-pressed", String(set.has(value)));
  updateFilterSummary();
}

function activeFilters() {
  const filters = {};
  for (const key of FILTER_KEYS) {
    if (state.filters[key].size) filters[key] = [...state.filters[key]];
  }
  return Object.keys(filters).length ? filters : null;
}

function describeFilters(filters) {
  if (!filters) return "";
  const parts = [];
  if (filters.stance) parts.push(filters.stance.map(capitalise).join(" or "));
  if (filters.programme) parts.push(`Programme ${filters.programme.join(", ")}`);
  if (filters.role) parts.push(filters.role.map((r) => ROLE_WORDS[r]).join(" or "));
  return parts.join(" · ");
}

function updateFilterSummary() {
  const filters = activeFilters();
  const count = FILTER_KEYS.reduce((n, key) => n + state.filters[key].size, 0);
  $("filter-count").hidden = count === 0;
  $("filter-count").textContent = String(count);
  $("filter-summary").textContent = describeFilters(filters);
  $("clear-filters").hidden = count === 0;
}

function clearFilters() {
  for (const key of FILTER_KEYS) state.filters[key].clear();
  for (const node of document.querySelectorAll(".chip")) node.setAttribute("aria-pressed", "false");
  updateFilterSummary();
}

// --- the conversation ---------------------------------------------------------------

/** The answer text as nodes: paragraphs, with each known [n] marker a button that opens
 * its passage with the sentence before it highlighted. A caveat leading the answer
 * ("The study does not report survival.") is set apart. */
function answerNodes(text, citations, caveat = null) {
  const byMarker = new Map(citations.map((c) => [c.marker, c]));
  return text
    .split(/\n{2,}/)
    .filter((para) => para.trim())
    .map((para, i) => {
      const p = el("p");
      let last = 0;
      let previous = "";
      if (i === 0 && caveat?.text && para.startsWith(caveat.text)) {
        p.append(el("strong", { class: "caveat", dataset: { kind: caveat.kind } }, caveat.text));
        last = caveat.text.length;
      }
      for (const match of para.matchAll(/\[(\d+)\]/g)) {
        const citation = byMarker.get(match[0]);
        const lineStart = para.lastIndexOf("\n", match.index) + 1;
        const sentence = para.slice(Math.max(last, lineStart), match.index).trim() || previous;
        previous = sentence;
        if (!citation) continue; // an unresolved [n] stays plain text
        p.append(para.slice(last, match.index), markerButton(citation, sentence));
        last = match.index + match[0].length;
      }
      p.append(para.slice(last));
      return p;
    });
}

function markerButton(citation, sentence) {
  const n = citation.marker.replace(/\D/g, "");
  return el(
    "button",
    {
      type: "button",
      class: "marker",
      "aria-label": `Source ${n}: ${studyLabel(citation)}, ${whereWords(citation)}`,
      "aria-controls": "panel",
      dataset: { marker: citation.marker, passageId: citation.id },
      onclick: (event) =>
        openPassage(citation.id, {
          label: `Source ${citation.marker}`,
          trigger: event.currentTarget,
          cited: sentence ? [sentence] : [],
        }),
    },
    n,
  );
}

function sourceList(citations, answer) {
  const sentences = citedSentences(answer);
  return el(
    "ol",
    { class: "sources" },
    citations.map((c) =>
      el(
        "li",
        {},
        el(
          "button",
          {
            type: "button",
            class: "source",
            "aria-controls": "panel",
            dataset: { passageId: c.id, programme: c.programme ?? "", kind: c.kind, marker: c.marker },
            onclick: (event) =>
              openPassage(c.id, {
                label: `Source ${c.marker}`,
                trigger: event.currentTarget,
                cited: sentences.get(c.marker) ?? [],
              }),
          },
          el("span", { class: "source-n", "aria-hidden": "true" }, c.marker.replace(/\D/g, "")),
          el(
            "span",
            { class: "source-main" },
            el("span", { class: "source-study" }, studyLabel(c)),
            el("span", { class: "source-where" }, whereWords(c), c.stance ? ` · ${capitalise(c.stance)}` : ""),
            el("span", { class: "source-text" }, snippet(c, sentences.get(c.marker))),
          ),
        ),
      ),
    ),
  );
}

/** "answer\n\nSources:\n[1] Joo et al. 2022, Family Practice. Results, “Matching”: “text”
 * (passage id)": what the copy button puts on the clipboard. */
function copyableAnswer(body) {
  const lines = [body.answer.trim()];
  if (body.citations.length) {
    lines.push("", "Sources:");
    for (const c of body.citations) {
      const doi = studyOf(c)?.doi ? ` doi:${studyOf(c).doi}` : "";
      // "Lyons et al." ends a sentence already: no second period
      lines.push(`${c.marker} ${studyLabel(c).replace(/\.$/, "")}.${doi} ${whereWords(c)}: “${c.text}” (${c.id})`);
    }
  }
  return lines.join("\n");
}

async function writeClipboard(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // Older browsers and non-secure origins: the selection-based fallback.
    const area = el("textarea", { class: "offscreen", readonly: true, "aria-hidden": "true" });
    area.value = text;
    document.body.append(area);
    area.select();
    const ok = document.execCommand?.("copy") ?? false;
    area.remove();
    return ok;
  }
}

class Turn {
  constructor(question, filters) {
    this.status = el("span", { class: "answer-status" }, "Finding evidence…");
    this.text = el("div", { class: "answer-text" });
    this.extra = el("div", { class: "answer-extra" });
    this.answer = el(
      "article",
      { class: "answer", "aria-busy": "true", "aria-label": "Answer", dataset: { state: "streaming", deltas: "0" } },
      el("header", { class: "answer-head" }, el("span", { class: "answer-who" }, "Evidence"), this.status),
      this.text,
      this.extra,
    );
    this.node = el(
      "li",
      { class: "turn" },
      el(
        "div",
        { class: "question" },
        el("p", { class: "question-text" }, question),
        filters ? el("p", { class: "question-filters" }, `Filtered: ${describeFilters(filters)}`) : null,
      ),
      this.answer,
    );
    this.citations = [];
    this.deltas = 0;
  }

  setCitations(citations) {
    this.citations = citations;
    this.status.textContent = citations.length
      ? `Writing from ${citations.length} source${citations.length === 1 ? "" : "s"}…`
      : "Writing…";
  }

  setText(text) {
    this.deltas += 1;
    this.answer.dataset.deltas = String(this.deltas);
    fill(this.text, ...answerNodes(text, this.citations));
  }

  finish(body) {
    this.answer.dataset.state = "done";
    this.answer.setAttribute("aria-busy", "false");
    this.answer.dataset.abstained = String(body.abstained);
    if (body.abstained) {
      const { code, why } = declineReason(body);
      const safety = code === "medical_advice";
      this.answer.classList.add(safety ? "is-safety" : "is-abstained");
      this.answer.dataset.reasonCode = code ?? "";
      this.status.textContent = safety ? "Declined for safety" : "Not answered";
      fill(
        this.text,
        el(
          "div",
          { class: `notice ${safety ? "notice-safety" : "notice-abstain"}` },
          el(
            "p",
            { class: "notice-title" },
            safety ? "Not individual medical advice" : "The evidence does not answer this",
          ),
          el("p", {}, body.answer),
          why ? el("p", { class: "notice-reason" }, `Why: ${why}`) : null,
        ),
      );
      return;
    }
    this.citations = body.citations;
    fill(this.text, ...answerNodes(body.answer, body.citations, body.caveat));
    const n = body.citations.length;
    this.status.textContent = `${n} source${n === 1 ? "" : "s"}`;
    const copy = el(
      "button",
      { type: "button", class: "btn btn-quiet btn-small copy" },
      copyIcon(),
      el("span", {}, "Copy with citations"),
    );
    copy.addEventListener("click", async () => {
      const ok = await writeClipboard(copyableAnswer(body));
      copy.lastChild.textContent = ok ? "Copied" : "Copy failed";
      copy.classList.toggle("is-done", ok);
      toast(ok ? `Answer and ${n} source${n === 1 ? "" : "s"} copied to the clipboard.` : "Could not copy: select the text instead.");
      setTimeout(() => {
        copy.lastChild.textContent = "Copy with citations";
        copy.classList.remove("is-done");
      }, 2500);
    });
    fill(
      this.extra,
      n ? el("h3", { class: "sources-title" }, "Sources") : null,
      n ? sourceList(body.citations, body.answer) : null,
      el("div", { class: "answer-actions" }, copy),
    );
  }

  fail(message, retry) {
    this.answer.dataset.state = "error";
    this.answer.setAttribute("aria-busy", "false");
    this.answer.classList.add("is-error");
    this.status.textContent = "No answer";
    fill(
      this.text,
      el(
        "div",
        { class: "notice notice-error" },
        el("p", { class: "notice-title" }, "Something went wrong"),
        el("p", { class: "error-message" }, message),
        retry ? el("button", { type: "button", class: "btn btn-quiet btn-small", onclick: retry }, "Try again") : null,
      ),
    );
  }
}

function copyIcon() {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 20 20");
  svg.setAttribute("width", "16");
  svg.setAttribute("height", "16");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
  path.setAttribute("d", "M7 3h8a2 2 0 0 1 2 2v8M5 7h7a1 1 0 0 1 1 1v8a1 1 0 0 1-1 1H5a1 1 0 0 1-1-1V8a1 1 0 0 1 1-1z");
  path.setAttribute("fill", "none");
  path.setAttribute("stroke", "currentColor");
  path.setAttribute("stroke-width", "1.6");
  path.setAttribute("stroke-linejoin", "round");
  svg.append(path);
  return svg;
}

/** Let the browser paint: deltas often arrive in one network chunk, and the reader
 * should still see the answer grow. Hidden tabs do not paint, so do not wait there. */
function nextPaint() {
  if (document.hidden) return Promise.resolve();
  return new Promise((resolve) => requestAnimationFrame(() => resolve()));
}

/** Why an answer was declined: `reason_code` ("medical_advice" is a safety refusal,
 * "out_of_scope" means the evidence does not cover it) and `reason`, a plain sentence.
 * Services from before reason_code sent "code: text" in `reason` alone. */
function declineReason(body) {
  const reason = body.reason ?? "";
  if (body.reason_code) return { code: body.reason_code, why: capitalise(reason) };
  const match = reason.match(/^([a-z_]+):\s*(.*)$/s);
  if (match) return { code: match[1], why: capitalise(match[2]) };
  return { code: null, why: capitalise(reason) };
}

function setBusy(busy) {
  state.busy = busy;
  $("ask-button").disabled = busy;
  $("ask-button").textContent = busy ? "Answering…" : "Ask";
}

const reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)");

/** Scroll so the turn is in view between the top bar and the question box: all of it when
 * it fits, else its question at the top (the reader scrolls on down). */
function reveal(turn, behavior = "smooth") {
  const top = document.querySelector(".topbar").getBoundingClientRect().bottom;
  const bottom = $("ask-form").getBoundingClientRect().top;
  const box = turn.node.getBoundingClientRect();
  let by = 0;
  if (box.height > bottom - top || box.top < top) by = box.top - top;
  else if (box.bottom > bottom) by = box.bottom - bottom;
  if (Math.abs(by) < 1) return;
  window.scrollBy({ top: by, behavior: reducedMotion.matches ? "auto" : behavior });
}

function addTurn(question, filters) {
  const turn = new Turn(question, filters);
  $("intro").hidden = true;
  $("thread").append(turn.node);
  return turn;
}

async function ask(question) {
  if (state.busy) return;
  const filters = activeFilters();
  const turn = addTurn(question, filters);
  reveal(turn);
  setBusy(true);

  const controller = new AbortController();
  state.controller = controller;
  const retry = () => {
    turn.node.remove();
    ask(question);
  };
  const body = { question };
  if (filters) body.filters = filters;
  if (state.sessionId) body.session_id = state.sessionId;

  try {
    const response = await fetch("/v1/ask/stream", {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream" },
      body: JSON.stringify(body),
      signal: controller.signal,
    });
    if (!response.ok) {
      turn.fail(await describeFailure(response), response.status >= 500 || response.status === 429 ? retry : null);
      return;
    }
    let text = "";
    let finished = false;
    for await (const { event, data } of readEvents(response)) {
      if (event === "citations") {
        turn.setCitations(JSON.parse(data));
      } else if (event === "delta") {
        text += deltaText(data);
        turn.setText(text);
        reveal(turn, "auto"); // follow the answer as it grows
        await nextPaint();
      } else if (event === "done") {
        const result = JSON.parse(data);
        turn.finish(result);
        if (result.session_id) state.sessionId = result.session_id;
        state.turns.push({ question, filters, body: result });
        saveConversation();
        reveal(turn);
        finished = true;
      } else if (event === "error") {
        let detail = data;
        try {
          detail = describeDetail(JSON.parse(data).detail ?? JSON.parse(data));
        } catch {
          /* plain text */
        }
        turn.fail(`The answer could not be completed: ${detail}`, retry);
        finished = true;
      }
    }
    if (!finished) turn.fail("The answer was interrupted before it finished. Please try again.", retry);
  } catch (error) {
    if (controller.signal.aborted) return; // the reader started a new conversation
    turn.fail(
      error instanceof SyntaxError
        ? "The service sent an answer this page could not read. Please try again."
        : "Could not reach the evidence service. Check the connection and try again.",
      retry,
    );
  } finally {
    if (state.controller === controller) {
      state.controller = null;
      setBusy(false);
    }
  }
}

function newConversation() {
  state.controller?.abort();
  state.controller = null;
  setBusy(false);
  state.sessionId = null;
  state.turns = [];
  saveConversation();
  fill($("thread"));
  $("intro").hidden = false;
  closePanel();
  showView("ask");
  $("question").value = "";
  autosize();
  $("question").focus();
}

/** The conversation saved before a reload, shown again; the service's session continues
 * it when still live (GET /v1/sessions/{id}), else the next question starts afresh. */
async function restoreConversation() {
  const saved = savedConversation();
  if (!saved?.turns.length || state.turns.length || state.busy) return; // a question came first
  let last = null;
  try {
    for (const { question, filters, body } of saved.turns) {
      last = addTurn(question, filters);
      last.finish(body);
    }
  } catch {
    // A saved answer this page cannot show: start clean rather than half a conversation.
    fill($("thread"));
    $("intro").hidden = false;
    saveConversation();
    return;
  }
  state.sessionId = saved.sessionId;
  state.turns = saved.turns;
  reveal(last, "auto");
  if (!state.sessionId) return;
  const asked = state.sessionId;
  let response;
  try {
    response = await fetch(`/v1/sessions/${encodeURIComponent(asked)}`, { headers: { accept: "application/json" } });
  } catch {
    return; // offline for now: keep the id; the service decides when the next question comes
  }
  if (response.status !== 404 || state.sessionId !== asked) return;
  state.sessionId = null;
  saveConversation();
  $("thread").append(
    el(
      "li",
      { class: "session-note", role: "note" },
      "This conversation has expired on the service: your next question starts a new one. ",
      "The answers above stay here for reference.",
    ),
  );
}

// --- the passage panel --------------------------------------------------------------

const phone = window.matchMedia("(max-width: 760px)");

function contextBlock(p, where) {
  return el(
    "div",
    { class: `ctx ctx-${where}`, dataset: { passageId: p.id } },
    el(
      "p",
      { class: "ctx-label" },
      el("span", { class: "ctx-where" }, where === "before" ? "Before" : "After"),
      ` ${whereWords(p)}`,
    ),
    el("p", { class: "ctx-text" }, p.text),
  );
}

function metaRow(label, value) {
  return value ? [el("dt", {}, label), el("dd", {}, value)] : [];
}

/** Open passage `id` in the panel, the spans `cited` (answer sentences, or a mitigation's
 * words) highlighted in it and scrolled to. */
async function openPassage(id, { label = "Passage", trigger = null, cited = [] } = {}) {
  const token = ++state.panelToken;
  const panel = $("panel");
  const body = $("panel-body");
  if (trigger) state.panelTrigger = trigger;
  for (const node of document.querySelectorAll(".is-active")) node.classList.remove("is-active");
  for (const node of document.querySelectorAll(`[data-passage-id="${CSS.escape(id)}"]`)) {
    if (node.matches(".marker, .source, .mitigation, .quote-open")) node.classList.add("is-active");
  }
  panel.hidden = false;
  // A bottom sheet over the page on phones is modal; beside the answer it is not.
  panel.setAttribute("role", phone.matches ? "dialog" : "complementary");
  panel.setAttribute("aria-modal", String(phone.matches));
  $("layout").classList.add("has-panel");
  $("backdrop").hidden = !phone.matches;
  document.documentElement.classList.toggle("sheet-open", phone.matches);
  $("panel-eyebrow").textContent = label;
  $("panel-title").textContent = "Loading…";
  $("panel-study").textContent = "";
  body.setAttribute("aria-busy", "true");
  fill(body, el("p", { class: "panel-loading" }, "Loading the passage…"));
  if (trigger) panel.focus({ preventScroll: true });

  let p;
  let before = null;
  let after = null;
  try {
    p = await passage(id);
    [before, after] = await Promise.all(
      [p.previous_id, p.next_id].map((n) => (n ? passage(n).catch(() => null) : null)),
    );
  } catch (error) {
    if (token !== state.panelToken) return;
    $("panel-title").textContent = "Passage unavailable";
    body.setAttribute("aria-busy", "false");
    fill(body, el("div", { class: "notice notice-error" }, el("p", {}, error.message)));
    return;
  }
  if (token !== state.panelToken) return;

  $("panel-title").textContent = sectionWords(p.section) || "Passage";
  $("panel-study").textContent = studyLabel(p);
  const who = attribution(p);
  const condition = p.programme ? programmeCondition(p.programme) : null;
  const study = studyOf(p);
  const marks = cited.map((sentence) => locate(sentence, p.text)).filter(Boolean);
  state.panelPrev = p.previous_id;
  state.panelNext = p.next_id;
  $("passage-prev").disabled = !p.previous_id;
  $("passage-next").disabled = !p.next_id;
  $("panel-position").textContent = KIND_WORDS[p.kind] ?? "";

  body.setAttribute("aria-busy", "false");
  fill(
    body,
    el(
      "ul",
      { class: "tags", "aria-label": "About this passage" },
      KIND_WORDS[p.kind] ? el("li", { class: "tag" }, KIND_WORDS[p.kind]) : null,
      p.stance ? el("li", { class: `tag tag-${p.stance}` }, capitalise(p.stance)) : null,
      p.page ? el("li", { class: "tag" }, `Page ${p.page}`) : null,
    ),
    el(
      "dl",
      { class: "meta" },
      metaRow("Theme", p.theme),
      metaRow("Speaker", p.role && capitalise(who)),
      metaRow("Programme", condition && `${p.programme}: ${condition}`),
    ),
    el(
      "div",
      { class: "context", "aria-label": "The passage with its neighbours" },
      before ? contextBlock(before, "before") : null,
      el(
        "blockquote",
        { class: `passage${p.stance ? ` stance-${p.stance}` : ""}`, dataset: { passageId: p.id } },
        p.header ? el("p", { class: "passage-header", "aria-label": "Table columns" }, p.header) : null,
        el("p", { class: "passage-text" }, markedText(p.text, marks)),
        p.role ? el("footer", { class: "passage-who" }, `— ${who}`) : null,
      ),
      after ? contextBlock(after, "after") : null,
    ),
    p.references?.length
      ? el(
          "section",
          { class: "refs", "aria-labelledby": "refs-title" },
          el("h3", { id: "refs-title" }, "References cited here"),
          el(
            "ol",
            {},
            p.references.map((r) => el("li", {}, el("span", { class: "ref-n" }, `${r.n}.`), " ", r.citation)),
          ),
        )
      : null,
    el(
      "p",
      { class: "panel-doc", title: `Passage ${p.id}` },
      study?.title ? [el("cite", {}, study.title), ". "] : null,
      studyLabel(p),
      study?.doi ? `. doi:${study.doi}` : "",
    ),
  );
  body.scrollTop = 0;
  // The cited sentence, not the start of the passage, is what the reader came for.
  const mark = body.querySelector("mark.cited");
  if (mark) {
    const box = mark.getBoundingClientRect();
    const top = box.top - body.getBoundingClientRect().top;
    if (top + box.height > body.clientHeight - 16) body.scrollTop = Math.max(0, top - 24);
  }
}

function closePanel() {
  if ($("panel").hidden) return;
  state.panelToken += 1;
  $("panel").hidden = true;
  $("backdrop").hidden = true;
  $("layout").classList.remove("has-panel");
  document.documentElement.classList.remove("sheet-open");
  for (const node of document.querySelectorAll(".is-active")) node.classList.remove("is-active");
  const trigger = state.panelTrigger;
  state.panelTrigger = null;
  if (trigger?.isConnected) trigger.focus();
}

// --- challenges ---------------------------------------------------------------------

function mitigationItem(m) {
  return el(
    "li",
    {},
    el(
      "button",
      {
        type: "button",
        class: "mitigation",
        "aria-controls": "panel",
        dataset: { passageId: m.passage_id },
        onclick: (event) =>
          openPassage(m.passage_id, { label: "Mitigation", trigger: event.currentTarget, cited: [m.text] }),
      },
      m.text,
    ),
  );
}

function quoteFigure(q) {
  const who = attribution(q);
  return el(
    "figure",
    { class: "quote", dataset: { programme: q.programme ?? "" } },
    el("blockquote", {}, el("p", {}, q.text)),
    el(
      "figcaption",
      {},
      el("span", {}, who ? `— ${capitalise(who)}` : "— interviewee"),
      el(
        "button",
        {
          type: "button",
          class: "btn btn-link quote-open",
          "aria-controls": "panel",
          "aria-label": `Read this quote in context${who ? ` (${who})` : ""}`,
          dataset: { passageId: q.id },
          onclick: (event) => openPassage(q.id, { label: "Quote", trigger: event.currentTarget }),
        },
        "In context",
      ),
    ),
  );
}

function challengeCard(c, i) {
  return el(
    "li",
    { class: "challenge" },
    el(
      "h2",
      { class: "challenge-title" },
      el("span", { class: "challenge-n", "aria-hidden": "true" }, String(i + 1)),
      c.challenge,
    ),
    el(
      "section",
      { class: "mitigations" },
      el("h3", {}, "How programmes address it"),
      c.mitigations.length
        ? el("ul", {}, c.mitigations.map(mitigationItem))
        : el("p", { class: "muted" }, "The evidence does not describe a response to this challenge."),
    ),
    c.quotes.length
      ? el(
          "section",
          { class: "quotes" },
          el("h3", {}, "In their words"),
          el("div", { class: "quote-grid" }, c.quotes.map(quoteFigure)),
        )
      : null,
  );
}

function renderChallenges(list) {
  fill($("challenges"), ...list.map(challengeCard));
}

async function loadChallenges() {
  const status = $("challenges-status");
  fill(status, el("p", { class: "muted" }, "Loading challenges…"));
  try {
    const list = await getJSON("/v1/challenges");
    renderChallenges(list);
    fill(status, el("p", { class: "muted" }, `${list.length} challenges from the evidence.`));
    state.challengesLoaded = true;
  } catch (error) {
    fill(
      status,
      el(
        "div",
        { class: "notice notice-error" },
        el("p", {}, error.message),
        el("button", { type: "button", class: "btn btn-quiet btn-small", onclick: loadChallenges }, "Try again"),
      ),
    );
  }
}

// --- views, toast, wiring -----------------------------------------------------------

function showView(view) {
  for (const tab of document.querySelectorAll(".view-tab")) {
    if (tab.dataset.view === view) tab.setAttribute("aria-current", "page");
    else tab.removeAttribute("aria-current");
  }
  $("view-ask").hidden = view !== "ask";
  $("view-challenges").hidden = view !== "challenges";
  if (view === "challenges" && !state.challengesLoaded) loadChallenges();
}

function viewFromHash() {
  return location.hash === "#challenges" ? "challenges" : "ask";
}

let toastTimer;
function toast(message) {
  const node = $("toast");
  node.textContent = message;
  node.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    node.hidden = true;
  }, 3000);
}

function autosize() {
  const area = $("question");
  area.style.height = "auto";
  // Empty: stay one line (a wrapped placeholder would otherwise grow the box).
  if (area.value) area.style.height = `${Math.min(area.scrollHeight, 200)}px`;
}

function submitQuestion() {
  const area = $("question");
  const question = area.value.trim();
  if (!question) {
    area.focus();
    return;
  }
  area.value = "";
  autosize();
  $("filters").open = false; // the summary still names the active filters
  ask(question);
}

async function init() {
  renderFilterChips();
  updateFilterSummary();
  loadProgrammes();

  $("ask-form").addEventListener("submit", (event) => {
    event.preventDefault();
    submitQuestion();
  });
  $("question").addEventListener("input", autosize);
  $("question").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submitQuestion();
    }
  });
  for (const button of document.querySelectorAll(".suggestion")) {
    button.addEventListener("click", () => ask(button.textContent.trim()));
  }
  $("clear-filters").addEventListener("click", clearFilters);
  $("new-conversation").addEventListener("click", newConversation);
  $("panel-close").addEventListener("click", closePanel);
  $("passage-prev").addEventListener("click", () => openPassage(state.panelPrev, { label: "Earlier passage" }));
  $("passage-next").addEventListener("click", () => openPassage(state.panelNext, { label: "Later passage" }));
  $("backdrop").addEventListener("click", closePanel);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !$("panel").hidden) closePanel();
  });
  for (const tab of document.querySelectorAll(".view-tab")) {
    tab.addEventListener("click", () => {
      location.hash = tab.dataset.view === "challenges" ? "#challenges" : "";
      showView(tab.dataset.view);
    });
  }
  window.addEventListener("hashchange", () => showView(viewFromHash()));
  phone.addEventListener("change", () => {
    const open = !$("panel").hidden;
    $("backdrop").hidden = !(open && phone.matches);
    document.documentElement.classList.toggle("sheet-open", open && phone.matches);
  });
  showView(viewFromHash());
  await loadDocuments(); // labels of restored answers name their studies
  await restoreConversation();
}

init();
