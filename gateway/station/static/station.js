// The station page: long-polls the gateway's view of the stand and redraws; buttons post to the gateway.
"use strict";

const body = document.body;
const token = body.dataset.token;
const messages = JSON.parse(body.dataset.messages);
const strings = {};
for (const span of document.getElementById("strings").content.querySelectorAll("span")) {
  strings[span.dataset.key] = span.textContent;
}
const numbered = (key, n) => strings[key].replace("{n}", n);
const field = (name) => document.querySelector(`[data-field="${name}"]`);

async function post(path) {
  const response = await fetch(path, { method: "POST", headers: { "X-Station-Token": token } });
  if (!response.ok) field("notice").textContent = await response.text();
}

function reasons(shot) {
  return Object.keys(shot.failed).map((name) => messages[name] || shot.failed[name].reason);
}

function draw(view) {
  field("dossier").textContent = view.dossier || strings.none;
  field("pages").textContent = view.pages;
  const notice = view.notice ? messages[view.notice] || view.notice : "";
  field("notice").textContent = notice.replace("{n}", view.notice_page);
  field("notice").classList.toggle("urgent", view.notice === "not_kept");
  // The detail is shown where it is the keeper's to read: what went wrong, which dossier was closed, why a
  // page was not kept.
  if (view.notice_detail && ["error", "session_ended", "not_kept"].includes(view.notice)) {
    field("notice").textContent += `: ${view.notice_detail}`;
  }
  // Shooting and ending need an open dossier: a session starts only at the stand's reader.
  for (const action of ["shoot", "done"]) {
    document.querySelector(`[data-action="${action}"]`).disabled = !view.dossier;
  }
  field("waiting").textContent = view.dossier && view.waiting_for ? messages[view.waiting_for] || "" : "";
  field("keep").hidden = !view.retake;
  field("retake").textContent = view.retake ? numbered("retaking", view.retake) : "";
  const image = field("image");
  const list = field("reasons");
  list.replaceChildren();
  if (view.last && view.dossier) {
    const shot = view.last;
    field("verdict").textContent = `${numbered("page", shot.page)}: ${shot.ok ? strings.good : strings.bad}`;
    field("verdict").className = `verdict ${shot.ok ? "good" : "bad"}`;
    for (const text of reasons(shot)) {
      const item = document.createElement("li");
      item.textContent = text;
      list.append(item);
    }
    // The verdict comes before the page's files are written; its image once they are. Until then no image
    // at all: the one before would be another page's, or a retaken page's earlier shot.
    field("turned").textContent = shot.turned_deg ? strings.turned : "";
    if (shot.access) {
      image.src = `page/${shot.page}.jpg?v=${view.version}`;
      image.hidden = false;
    } else {
      image.hidden = true;
      image.removeAttribute("src");
    }
  } else {
    field("verdict").textContent = "";
    field("turned").textContent = "";
    image.hidden = true;
  }
  field("saving").textContent = view.dossier && view.saving ? numbered("saving", view.saving) : "";
  const recent = field("recent");
  recent.replaceChildren();
  for (const shot of view.dossier ? view.recent : []) {
    const item = document.createElement("li");
    item.className = shot.ok ? "good" : "bad";
    item.textContent = `${numbered("page", shot.page)}: ${shot.ok ? strings.good : strings.bad} `;
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = numbered("retake", shot.page);
    button.addEventListener("click", () => post(`retake/${shot.page}`));
    item.append(button);
    recent.append(item);
  }
}

async function follow() {
  let version = null;
  for (;;) {
    try {
      const response = await fetch(version === null ? "view.json" : `view.json?since=${version}`, { cache: "no-store" });
      if (!response.ok) throw new Error(response.statusText);
      const view = await response.json();
      version = view.version;
      draw(view);
    } catch (error) {
      field("notice").textContent = strings.offline;
      version = null;
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  }
}

for (const button of document.querySelectorAll("[data-action]")) {
  button.addEventListener("click", () => post(button.dataset.action));
}
for (const button of document.querySelectorAll("[data-language]")) {
  button.addEventListener("click", async () => {
    await post(`language/${button.dataset.language}`);
    location.reload();
  });
}
follow();
