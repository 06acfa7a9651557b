// vpclab console: small progressive enhancements. Every page works without this file;
// with it, a few steps need no round trip.
"use strict";

// "Add route" / "Add rule": clone the blank template row instead of re-rendering the
// form; "Remove" drops the row instead of marking it.
document.addEventListener("click", (event) => {
  const add = event.target.closest("button[data-add-row]");
  if (add) {
    const table = document.getElementById(add.dataset.addRow);
    const template = table && table.querySelector("template");
    if (template) {
      event.preventDefault();
      const row = template.content.firstElementChild.cloneNode(true);
      table.querySelector("tbody").appendChild(row);
      const first = row.querySelector("input, select");
      if (first) first.focus();
    }
    return;
  }
  const remove = event.target.closest("button[data-remove-row]");
  if (remove) {
    event.preventDefault();
    const row = remove.closest("tr");
    const next = row.nextElementSibling || row.previousElementSibling;
    row.remove();
    const focus = next && next.querySelector("input, select, button");
    if (focus) focus.focus();
  }
});

// Close an open Actions menu with Escape, as a menu should.
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  for (const menu of document.querySelectorAll("details.actions[open]")) {
    menu.open = false;
    menu.querySelector("summary").focus();
  }
});

// The live map: every few seconds, colour the nodes that carried or dropped packets.
(function liveMap() {
  const map = document.querySelector(".map[data-traffic]");
  if (!map) return;
  const url = map.dataset.traffic;
  let timer = null;
  async function refresh() {
    try {
      const response = await fetch(url, { headers: { "Accept": "application/json" } });
      if (!response.ok) return;
      const traffic = await response.json();
      for (const node of map.querySelectorAll("g.node")) {
        const title = node.querySelector("title");
        const id = title ? title.textContent : "";
        const t = traffic.nodes ? traffic.nodes[id] : null;
        node.classList.toggle("hot", !!(t && t.packets > 0));
        node.classList.toggle("dropping", !!(t && t.drops > 0));
        const label = t ? `${t.packets} packets, ${t.drops} dropped` : "";
        node.setAttribute("aria-label", label);
      }
      const status = document.getElementById("traffic-status");
      if (status && traffic.summary) status.textContent = traffic.summary;
    } catch (_) {
      // The daemon restarting: try again at the next tick.
    }
  }
  refresh();
  timer = setInterval(refresh, 3000);
  window.addEventListener("pagehide", () => clearInterval(timer));
})();
