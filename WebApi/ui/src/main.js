import { apiKey } from "./api.js";
import { lookingGlass } from "./pages/lookingGlass.js";
import { targetPage, targetsPage } from "./pages/target.js";
import { asnPage } from "./pages/asn.js";
import { graphPage } from "./pages/graph.js";
import { dnsPage } from "./pages/dns.js";
import { statusPage } from "./pages/status.js";
import { vantagesPage } from "./pages/vantages.js";
import { incidentsPage, incidentPage } from "./pages/incidents.js";

const routes = [
  [/^#?\/?$/, "lg", (root) => lookingGlass(root, {})],
  [/^#\/lg\/([^/]+)$/, "lg", (root, m) => lookingGlass(root, { target: decodeURIComponent(m[1]) })],
  [/^#\/targets$/, "targets", (root) => targetsPage(root)],
  [/^#\/target\/([^/]+)$/, "targets", (root, m) => targetPage(root, decodeURIComponent(m[1]))],
  [/^#\/asn(?:\/([^/]+))?$/, "asn", (root, m) => asnPage(root, m[1] ? decodeURIComponent(m[1]) : null)],
  [/^#\/graph(?:\/([^/]+))?$/, "graph", (root, m) => graphPage(root, m[1] ? decodeURIComponent(m[1]) : null)],
  [/^#\/dns$/, "dns", (root) => dnsPage(root)],
  [/^#\/vantages$/, "vantages", (root) => vantagesPage(root)],
  [/^#\/incidents$/, "incidents", (root) => incidentsPage(root)],
  [/^#\/incident\/(\d+)$/, "incidents", (root, m) => incidentPage(root, m[1])],
  [/^#\/status$/, "status", (root) => statusPage(root)],
];

let cleanup = null;

function route() {
  const root = document.getElementById("app");
  const hash = location.hash || "#/";
  for (const [pattern, nav, render] of routes) {
    const match = hash.match(pattern);
    if (!match) continue;
    document.querySelectorAll("[data-nav]").forEach((a) => a.classList.toggle("active", a.dataset.nav === nav));
    if (typeof cleanup === "function") cleanup();
    cleanup = render(root, match);
    return;
  }
  root.textContent = "Page not found.";
}

function setUpKey() {
  const button = document.getElementById("key-button");
  const panel = document.getElementById("key-panel");
  const input = document.getElementById("key-input");
  const show = () => {
    const key = apiKey.get();
    button.textContent = key ? `Key ${key.slice(0, 11)}…` : "API key";
    button.classList.toggle("set", !!key);
  };
  button.addEventListener("click", () => {
    panel.hidden = !panel.hidden;
    if (!panel.hidden) { input.value = apiKey.get(); input.focus(); }
  });
  document.getElementById("key-form").addEventListener("submit", (e) => {
    e.preventDefault();
    apiKey.set(input.value.trim());
    panel.hidden = true;
    show();
    route();
  });
  document.getElementById("key-clear").addEventListener("click", () => {
    apiKey.set("");
    input.value = "";
    panel.hidden = true;
    show();
    route();
  });
  show();
}

window.addEventListener("hashchange", route);
setUpKey();
route();
