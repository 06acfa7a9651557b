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

// A route's target type narrows its target list to that group ("select Internet
// Gateway, then the gateway"); without a type every target shows.
function narrowTargets(typeSelect) {
  const row = typeSelect.closest("tr");
  const targets = row && row.querySelector("select[name='target']");
  if (!targets) return;
  const type = typeSelect.value;
  for (const group of targets.querySelectorAll("optgroup")) {
    group.hidden = type !== "" && group.label !== type;
  }
  const chosen = targets.selectedOptions[0];
  if (chosen && chosen.parentElement.hidden) targets.value = "";
}
document.addEventListener("change", (event) => {
  const typeSelect = event.target.closest("select[data-target-type]");
  if (typeSelect) narrowTargets(typeSelect);
});
document.addEventListener("DOMContentLoaded", () => {
  for (const typeSelect of document.querySelectorAll("select[data-target-type]")) {
    narrowTargets(typeSelect);
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

// The live map: every few seconds, mark the nodes whose packets grew since the last
// look (they carry traffic now) and those whose drops grew (they are dropping).
(function liveMap() {
  const map = document.querySelector(".map[data-traffic]");
  if (!map) return;
  const url = map.dataset.traffic;
  const last = new Map();
  let timer = null;
  async function refresh() {
    try {
      const response = await fetch(url, { headers: { "Accept": "application/json" } });
      if (!response.ok) return;
      const traffic = await response.json();
      const nodes = traffic.nodes || {};
      // Instances and gateways are nodes; a transit gateway is a cluster.
      for (const node of map.querySelectorAll("g.node, g.cluster")) {
        const title = node.querySelector(":scope > title");
        const id = title ? title.textContent : "";
        const now = nodes[id];
        if (!now) continue;
        const before = last.get(id);
        const through = (c) => ("carried" in c ? c.carried : c.sent + c.received);
        const moved = before && through(now) > through(before);
        const dropping = before && now.dropped > before.dropped;
        node.classList.toggle("hot", !!moved);
        node.classList.toggle("dropping", !!dropping);
        const why = now.why ? ` (the last: ${now.why})` : "";
        const label = "carried" in now
          ? `${now.carried} packets carried, ${now.dropped} dropped`
          : `${now.sent} sent, ${now.received} received, ${now.dropped} dropped${why}`;
        node.setAttribute("aria-label", label);
        if (title) title.textContent = id;
        let tip = node.querySelector("desc.traffic");
        if (!tip) {
          tip = document.createElementNS("http://www.w3.org/2000/svg", "desc");
          tip.setAttribute("class", "traffic");
          node.appendChild(tip);
        }
        tip.textContent = label;
        last.set(id, now);
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
