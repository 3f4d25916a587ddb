// inceptionism studio: the page. Plain JavaScript, no build step.
// The server's API is described in engine/studio/server.py.
"use strict";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const token = params.get("token") || sessionStorage.getItem("studio-token") || "";
if (params.get("token")) {
  sessionStorage.setItem("studio-token", token);
  history.replaceState(null, "", location.pathname); // the cookie keeps us in
}

const FINISHED = ["done", "failed", "cancelled"];

const state = {
  options: null, input: null, inputName: "", job: null, source: null,
  layersFor: null,
};

async function api(path, opts = {}) {
  const headers = Object.assign({ "X-Studio-Token": token }, opts.headers || {});
  const res = await fetch(path, Object.assign({}, opts, { headers }));
  let body = null;
  try { body = await res.json(); } catch (e) { body = null; }
  if (!res.ok) {
    throw new Error((body && body.error) || `the studio answered ${res.status}`);
  }
  return body;
}

// A picture to the studio: its stored id, name, size and any restored settings.
function sendPicture(file) {
  return api("api/uploads", {
    method: "POST", body: file,
    headers: { "X-Filename": encodeURIComponent(file.name).slice(0, 200) },
  });
}

function showError(message) {
  const el = $("error");
  el.textContent = message || "";
  el.hidden = !message;
}

function option(value, text, title) {
  const o = document.createElement("option");
  o.value = value; o.textContent = text;
  if (title) o.title = title;
  return o;
}

function clock(seconds) {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

// -- objective and plugin specs ---------------------------------------------

function objectiveInfo(name) {
  return state.options.objectives.find((o) => o.name === name);
}

function takesLayer(usage) {
  return /^[\w.-]+\[?:LAYER\b/.test(usage);
}

function composeSpec() {
  const info = objectiveInfo($("objective").value);
  if (!info) return;
  let spec = info.name;
  if (takesLayer(info.usage)) spec += ":" + $("layer").value;
  const args = $("objective-args").value.trim();
  if (args) spec += ":" + args;
  $("spec").value = spec;
}

function objectiveChanged() {
  const info = objectiveInfo($("objective").value);
  const rest = info.usage.replace(/^[\w.-]+/, "")
    .replace(/^\[?:LAYER\]?/, "").replace(/^[:[]+/, "");
  $("objective-args").placeholder = rest;
  $("objective-args").title = info.summary;
  $("guide-row").hidden = !/IMAGE_PATH/.test(info.usage);
  composeSpec();
}

async function pickGuide(file) {
  showError("");
  try {
    const up = await sendPicture(file);
    $("objective-args").value = JSON.stringify(up.path); // quoted: taken verbatim
    $("guide-name").textContent = up.name;
    composeSpec();
  } catch (e) { showError(e.message); }
}

function pluginRows(kind, skip) {
  const box = $(kind);
  box.replaceChildren();
  for (const p of state.options[kind]) {
    if (skip.includes(p.name)) continue;
    const row = document.createElement("label");
    row.className = "plugin";
    row.title = `${p.usage} (${p.plugin}): ${p.summary}`;
    const check = document.createElement("input");
    check.type = "checkbox"; check.dataset.name = p.name;
    check.id = `${kind}-${p.name}`;
    const arg = document.createElement("input");
    arg.type = "text"; arg.dataset.arg = p.name;
    arg.placeholder = p.usage.replace(/^[\w.-]+/, "").replace(/[[\]:]/g, " ").trim();
    row.append(check, document.createTextNode(p.name), arg);
    box.append(row);
  }
}

function pluginSpecs(kind) {
  const specs = [];
  for (const check of $(kind).querySelectorAll("input[type=checkbox]")) {
    if (!check.checked) continue;
    const arg = $(kind).querySelector(`[data-arg="${check.dataset.name}"]`).value.trim();
    specs.push(arg ? `${check.dataset.name}:${arg}` : check.dataset.name);
  }
  return specs;
}

function setPluginSpecs(kind, specs) {
  for (const check of $(kind).querySelectorAll("input[type=checkbox]")) {
    check.checked = false;
    $(kind).querySelector(`[data-arg="${check.dataset.name}"]`).value = "";
  }
  for (const spec of specs) {
    const i = spec.indexOf(":");
    const name = i < 0 ? spec : spec.slice(0, i);
    const check = $(kind).querySelector(`input[data-name="${CSS.escape(name)}"]`);
    if (!check) continue;
    check.checked = true;
    $(kind).querySelector(`[data-arg="${CSS.escape(name)}"]`).value =
      i < 0 ? "" : spec.slice(i + 1);
  }
}

// -- models and layers ------------------------------------------------------

async function loadLayers(wanted) {
  const model = $("model").value;
  const data = await api(`api/layers?model=${encodeURIComponent(model)}`);
  const select = $("layer");
  const keep = wanted || select.value || "inception_4c/output";
  select.replaceChildren();
  for (const g of data.groups) {
    const group = document.createElement("optgroup");
    group.label = g.stage;
    for (const l of g.layers) {
      group.append(option(l.name, `${l.name}  (${l.channels} ch, ${l.size})`, l.type));
    }
    select.append(group);
  }
  if ([...select.options].some((o) => o.value === keep)) select.value = keep;
  state.layersFor = model;
  showThumbs(data.groups);
  composeSpec();
}

// The layers that have a thumbnail (an atlas picture or a channel render),
// by stage; clicking one chooses that layer.
function showThumbs(groups) {
  const box = $("layer-thumbs");
  box.replaceChildren();
  for (const g of groups) {
    const withThumb = g.layers.filter((l) => l.thumb);
    if (!withThumb.length) continue;
    const stage = document.createElement("div");
    stage.className = "stage";
    const title = document.createElement("span");
    title.className = "muted";
    title.textContent = g.stage;
    stage.append(title);
    for (const l of withThumb) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "thumb";
      b.dataset.layer = l.name;
      b.title = `${l.name} (${l.thumb.kind === "atlas" ? "atlas" : "a channel"})`;
      const img = document.createElement("img");
      img.src = l.thumb.url;
      img.alt = l.name;
      img.dataset.layer = l.name;
      const name = document.createElement("span");
      name.textContent = l.name.slice(g.stage.length + 1) || l.name;
      b.append(img, name);
      b.addEventListener("click", () => {
        $("layer").value = l.name;
        $("layer").dispatchEvent(new Event("change"));
      });
      stage.append(b);
    }
    box.append(stage);
  }
  box.hidden = !box.children.length;
  markThumb();
}

function markThumb() {
  for (const b of $("layer-thumbs").querySelectorAll("button.thumb")) {
    b.classList.toggle("chosen", b.dataset.layer === $("layer").value);
  }
}

// -- settings ---------------------------------------------------------------

function numberOrNull(id) {
  const v = $(id).value.trim();
  return v === "" ? null : Number(v);
}

function gatherSettings() {
  return {
    input: state.input, input_name: state.inputName,
    model: $("model").value, device: $("device").value,
    max_size: numberOrNull("max-size"), mean: $("mean").value,
    config: {
      objective: $("spec").value.trim(),
      octaves: numberOrNull("octaves"), octave_scale: numberOrNull("octave-scale"),
      steps: numberOrNull("steps"), step_size: numberOrNull("step-size"),
      jitter: numberOrNull("jitter"), clip: $("clip").checked,
      seed: numberOrNull("seed"),
      regularizers: pluginSpecs("regularizers"), priors: pluginSpecs("priors"),
    },
  };
}

function setNumber(id, v) { $(id).value = v === null || v === undefined ? "" : v; }

async function applySettings(s) {
  if (s.model && [...$("model").options].some((o) => o.value === s.model)) {
    $("model").value = s.model;
  }
  if (s.device && [...$("device").options].some((o) => o.value === s.device)) {
    $("device").value = s.device;
  }
  setNumber("max-size", s.max_size);
  $("mean").value = s.mean || "file";
  const c = s.config;
  setNumber("octaves", c.octaves); setNumber("octave-scale", c.octave_scale);
  setNumber("steps", c.steps); setNumber("step-size", c.step_size);
  setNumber("jitter", c.jitter); setNumber("seed", c.seed);
  $("clip").checked = !!c.clip;
  setPluginSpecs("regularizers", c.regularizers || []);
  setPluginSpecs("priors", c.priors || []);
  const parts = c.objective.split(":");
  const info = objectiveInfo(parts[0]);
  let layer = null, args = parts.slice(1);
  if (info) {
    $("objective").value = info.name;
    objectiveChanged();
    if (takesLayer(info.usage) && args.length) { layer = args[0]; args = args.slice(1); }
  }
  await loadLayers(layer);
  $("objective-args").value = args.join(":");
  $("spec").value = c.objective; // exactly the recipe's, whatever the lists hold
}

async function defaults() {
  const d = state.options.defaults;
  await applySettings({ model: $("model").value, config: Object.assign({}, d, { seed: null }) });
}

// -- the picture ------------------------------------------------------------

function setInput(id, name, url) {
  state.input = id; state.inputName = name;
  $("input-img").src = url; $("input-img").classList.add("shown");
  $("input-name").textContent = name;
  $("drop-text").hidden = true;
}

async function upload(file) {
  showError("");
  $("input-name").textContent = `sending ${file.name}…`;
  try {
    const up = await sendPicture(file);
    const notes = [];
    if (up.settings) {
      await applySettings(up.settings);
      if (up.settings.input === "sample") {
        setInput("sample", "sample.png", "api/uploads/sample");
      } else if (up.settings.input) {
        setInput(up.settings.input, up.settings.input_name,
                 `api/uploads/${up.settings.input}`);
      } else {
        setInput(up.id, up.name, up.url);
        notes.push("Settings restored from the recipe; its original picture is " +
                   "not in this studio, so this picture is the input.");
      }
      notes.unshift("Settings restored from the picture's recipe.");
    } else {
      setInput(up.id, up.name, up.url);
    }
    if (up.note) notes.push(up.note);
    showNotes(notes);
  } catch (e) {
    $("input-name").textContent = state.inputName || "no picture yet";
    showError(e.message);
  }
}

function showNotes(notes) {
  $("notes").replaceChildren(...notes.map((n) => {
    const li = document.createElement("li"); li.textContent = n; return li;
  }));
}

// -- jobs -------------------------------------------------------------------

function showProgress(job) {
  const p = job.progress || {};
  const bar = $("progress-bar");
  if (p.total) { bar.max = p.total; bar.value = p.done; }
  let text = { queued: "Waiting for the device…", running: "Starting…",
               done: "Done.", failed: "Failed.", cancelled: "Stopped." }[job.state];
  if (job.state === "running" && p.total) {
    text = `octave ${p.octave}/${p.octaves} · step ${p.step}/${p.steps} · ` +
      `${p.done}/${p.total}` + (p.eta !== null ? ` · ETA ${clock(p.eta)}` : "");
  }
  if (job.state === "done") text = `Done in ${clock(job.seconds)}.`;
  $("progress-text").textContent = text;
  $("progress-text").dataset.state = job.state;
}

function finished(job) {
  $("dream").disabled = false; $("stop").disabled = true;
  if (job.state === "done") {
    $("picture").src = `${job.result}?v=${job.id}`;
    $("caption").textContent = `${job.input_name} · ${job.recipe.config.objective}` +
      ` · seed ${job.recipe.config.seed}`;
    const a = $("download");
    a.href = job.result; a.download = job.download_name; a.hidden = false;
  } else if (job.state === "failed") {
    showError(job.error);
  }
  showNotes(job.notes || []);
  refreshHistory();
}

function follow(job) {
  if (state.source) state.source.close();
  state.job = job;
  const source = new EventSource(`api/jobs/${job.id}/events`);
  state.source = source;
  source.addEventListener("job", (ev) => {
    const j = JSON.parse(ev.data);
    state.job = j;
    if (j.preview) $("picture").src = j.preview;
    showProgress(j);
    if (FINISHED.includes(j.state)) {
      source.close(); state.source = null;
      finished(j);
    }
  });
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) showError("lost the studio server");
  };
}

async function dream(ev) {
  ev.preventDefault();
  showError(""); showNotes([]);
  if (!state.input) { showError("No picture chosen: drop a photo or use the sample."); return; }
  $("dream").disabled = true;
  try {
    const job = await api("api/jobs", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(gatherSettings()),
    });
    $("stop").disabled = false; $("download").hidden = true;
    $("caption").textContent = "";
    showProgress(job);
    follow(job);
    refreshHistory();
  } catch (e) {
    $("dream").disabled = false;
    showError(e.message);
  }
}

async function stop() {
  if (!state.job) return;
  $("stop").disabled = true;
  try { await api(`api/jobs/${state.job.id}/cancel`, { method: "POST" }); }
  catch (e) { showError(e.message); }
}

async function refreshHistory() {
  let jobs;
  try { jobs = await api("api/jobs"); } catch (e) { return; }
  const list = $("history");
  list.replaceChildren();
  for (const j of jobs.slice().reverse()) {
    const li = document.createElement("li");
    li.dataset.job = j.id;
    if (j.result) {
      const img = document.createElement("img");
      img.src = j.result; img.alt = j.input_name; li.append(img);
    }
    const text = document.createElement("div");
    text.className = `state-${j.state}`;
    text.textContent = `${j.input_name} · ${j.settings.config.objective} · ${j.state}`;
    if (j.error) text.title = j.error;
    li.append(text);
    const restore = document.createElement("button");
    restore.type = "button"; restore.textContent = "Restore";
    restore.className = "restore";
    restore.addEventListener("click", async () => {
      await applySettings(j.settings);
      setInput(j.settings.input, j.input_name, `api/uploads/${j.settings.input}`);
    });
    li.append(restore);
    if (j.result) {
      const a = document.createElement("a");
      a.href = j.result; a.download = j.download_name; a.textContent = " PNG";
      li.append(a);
    }
    list.append(li);
  }
}

// -- start ------------------------------------------------------------------

async function start() {
  try {
    state.options = await api("api/options");
  } catch (e) { showError(e.message); return; }
  const o = state.options;
  for (const m of o.models) {
    const opt = option(m.id, m.label);
    opt.disabled = !m.available;
    $("model").append(opt);
  }
  const first = o.models.find((m) => m.available);
  if (first) $("model").value = first.id;
  for (const d of o.devices) $("device").append(option(d, d));
  for (const obj of o.objectives) {
    $("objective").append(option(obj.name, obj.name, `${obj.usage}: ${obj.summary}`));
  }
  $("objective").value = "deepdream";
  pluginRows("priors", ["jitter", "clip"]);
  pluginRows("regularizers", []);
  objectiveChanged();
  try { await defaults(); } catch (e) { showError(e.message); }

  $("model").addEventListener("change", () => loadLayers().catch((e) => showError(e.message)));
  $("layer").addEventListener("change", () => { markThumb(); composeSpec(); });
  $("objective").addEventListener("change", objectiveChanged);
  $("objective-args").addEventListener("input", composeSpec);
  $("file").addEventListener("change", () => { if ($("file").files[0]) upload($("file").files[0]); });
  $("guide-pick").addEventListener("click", () => $("guide-file").click());
  $("guide-file").addEventListener("change", () => { if ($("guide-file").files[0]) pickGuide($("guide-file").files[0]); });
  $("use-sample").addEventListener("click", () => setInput("sample", "sample.png", "api/uploads/sample"));
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault(); drop.classList.remove("over");
    if (e.dataTransfer.files[0]) upload(e.dataTransfer.files[0]);
  });
  $("settings").addEventListener("submit", dream);
  $("stop").addEventListener("click", stop);
  await refreshHistory();
  // a dream still going (the page was reloaded): follow it again
  try {
    const going = (await api("api/jobs")).filter((j) => !FINISHED.includes(j.state));
    if (going.length) {
      const j = going[going.length - 1];
      $("dream").disabled = true; $("stop").disabled = false;
      showProgress(j); follow(j);
    }
  } catch (e) { showError(e.message); }
  document.body.dataset.ready = "1";
}

start();
