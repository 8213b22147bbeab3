// Suggestions while typing in the dossier search: up to 8 dossiers from /api/dossiers/suggest.
"use strict";
(function () {
  const input = document.querySelector("input[data-suggest]");
  const list = document.getElementById("suggestions");
  if (!input || !list) return;
  let timer = null;
  let asked = 0;

  function show(suggestions) {
    list.replaceChildren();
    for (const hit of suggestions) {
      const item = document.createElement("li");
      item.setAttribute("role", "option");
      const link = document.createElement("a");
      link.href = input.dataset.page + encodeURIComponent(hit.code);
      link.textContent = `${hit.code} ${hit.name} · ${hit.unit}`;
      link.dataset.code = hit.code;
      item.append(link);
      list.append(item);
    }
    list.hidden = suggestions.length === 0;
  }

  async function ask() {
    const query = input.value.trim();
    const mine = ++asked;
    if (!query) return show([]);
    try {
      const answer = await fetch(`${input.dataset.suggest}?q=${encodeURIComponent(query)}`, { credentials: "same-origin" });
      if (!answer.ok || mine !== asked) return;
      show((await answer.json()).suggestions);
    } catch (error) {
      // offline for a moment: the search button still works
    }
  }

  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(ask, 150);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Escape") show([]);
  });
})();
