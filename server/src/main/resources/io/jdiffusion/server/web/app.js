// The jdiffusion page: talks to the server's A1111 routes like any other client.
"use strict";
const $ = (id) => document.getElementById(id);
let initImage = null;   // base64 of the dropped image (no data: prefix), or null for txt2img
let polling = null;

$("apiKey").value = localStorage.getItem("jdiffusion.apiKey") || "";
$("apiKey").addEventListener("change", () => { localStorage.setItem("jdiffusion.apiKey", $("apiKey").value); loadLists(); });

function headers() {
  const h = { "Content-Type": "application/json" };
  const key = $("apiKey").value.trim();
  if (key) h["Authorization"] = "Bearer " + key;
  return h;
}

async function api(path, body) {
  const response = await fetch(path, body === undefined ? { headers: headers() }
      : { method: "POST", headers: headers(), body: JSON.stringify(body) });
  const text = await response.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch (e) { /* not JSON */ }
  if (!response.ok) throw new Error(describeError(response.status, json, text));
  return json;
}

function describeError(status, json, text) {
  if (json && Array.isArray(json.detail)) return status + ": " + json.detail.map((d) => d.msg).join("; ");
  if (json && json.detail) return status + ": " + json.detail;
  if (json && json.errors) return status + ": " + json.errors;
  return status + ": " + text;
}

function fill(select, items, value, label) {
  select.replaceChildren(...items.map((item) => {
    const option = document.createElement("option");
    option.value = value(item);
    option.textContent = label(item);
    return option;
  }));
}

async function loadLists() {
  try {
    const [samplers, schedulers, options] = await Promise.all([
      api("/sdapi/v1/samplers"), api("/sdapi/v1/schedulers"), api("/sdapi/v1/options")]);
    fill($("sampler"), samplers, (s) => s.name, (s) => s.name);
    $("sampler").value = samplers.some((s) => s.name === "Euler a") ? "Euler a" : samplers[0].name;
    fill($("scheduler"), schedulers, (s) => s.name, (s) => s.label);
    $("model").textContent = options.sd_model_checkpoint || "";
    $("error").textContent = "";
  } catch (e) {
    $("error").textContent = e.message;
  }
}

function request() {
  const body = {
    prompt: $("prompt").value,
    negative_prompt: $("negative").value,
    sampler_name: $("sampler").value,
    scheduler: $("scheduler").value,
    steps: Number($("steps").value),
    cfg_scale: Number($("cfg").value),
    seed: Number($("seed").value),
    n_iter: Number($("count").value),
  };
  if ($("width").value) body.width = Number($("width").value);
  if ($("height").value) body.height = Number($("height").value);
  if (initImage) {
    body.init_images = [initImage];
    body.denoising_strength = Number($("strength").value);
  }
  return body;
}

async function generate(event) {
  event.preventDefault();
  $("error").textContent = "";
  $("generate").disabled = true;
  $("interrupt").disabled = false;
  startPolling();
  try {
    const result = await api(initImage ? "/sdapi/v1/img2img" : "/sdapi/v1/txt2img", request());
    const info = JSON.parse(result.info);
    result.images.forEach((image, i) => addToGallery(image, info.infotexts[i] || ""));
    if (info.interrupted) $("status").textContent = "Interrupted";
  } catch (e) {
    $("error").textContent = e.message;
  } finally {
    stopPolling();
    $("generate").disabled = false;
    $("interrupt").disabled = true;
  }
}

function addToGallery(base64, infotext) {
  const figure = document.createElement("figure");
  const img = document.createElement("img");
  img.src = "data:image/png;base64," + base64;
  img.className = "result";
  const caption = document.createElement("figcaption");
  caption.textContent = infotext;
  figure.append(img, caption);
  $("gallery").prepend(figure);
}

function startPolling() {
  $("barFill").style.width = "0";
  $("status").textContent = "Queued";
  polling = setInterval(async () => {
    try {
      const p = await api("/sdapi/v1/progress");
      if (p.state.job_count > 0) {
        $("barFill").style.width = Math.round(p.progress * 100) + "%";
        $("status").textContent = "Image " + (p.state.job_no + 1) + "/" + p.state.job_count + ", step "
            + p.state.sampling_step + "/" + p.state.sampling_steps + ", ETA " + p.eta_relative.toFixed(1) + " s";
      }
      if (p.current_image) {
        $("preview").src = "data:image/png;base64," + p.current_image;
        $("preview").hidden = false;
      }
    } catch (e) { /* the next poll tries again */ }
  }, 400);
}

function stopPolling() {
  clearInterval(polling);
  polling = null;
  $("barFill").style.width = "100%";
  if ($("status").textContent !== "Interrupted") $("status").textContent = "Done";
  $("preview").hidden = true;
}

function readImage(file) {
  if (!file || !file.type.startsWith("image/")) return;
  const reader = new FileReader();
  reader.onload = () => {
    const url = reader.result;
    initImage = url.substring(url.indexOf(",") + 1);
    $("dropImage").src = url;
    $("dropImage").hidden = false;
    $("dropText").textContent = "Image-to-image from:";
    $("strengthRow").hidden = false;
  };
  reader.readAsDataURL(file);
}

function clearInit() {
  initImage = null;
  $("dropImage").hidden = true;
  $("dropText").textContent = "Drop an image here (or click) for image-to-image";
  $("strengthRow").hidden = true;
}

const drop = $("drop");
drop.addEventListener("click", () => $("dropFile").click());
drop.addEventListener("keydown", (e) => { if (e.key === "Enter") $("dropFile").click(); });
$("dropFile").addEventListener("change", (e) => readImage(e.target.files[0]));
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); readImage(e.dataTransfer.files[0]); });
$("clearInit").addEventListener("click", clearInit);
$("form").addEventListener("submit", generate);
$("interrupt").addEventListener("click", () => api("/sdapi/v1/interrupt", {}).catch((e) => { $("error").textContent = e.message; }));
loadLists();
