import { api } from "../api.js";
import { h, mount, fmt, problemBox, empty } from "../dom.js";

export function dnsPage(root) {
  const domains = h("section", {}, h("p", { class: "muted" }, "Loading…"));
  const asns = h("section", {}, h("p", { class: "muted" }, "Loading…"));
  mount(root,
    h("h1", {}, "DNS"),
    h("p", { class: "lead" }, "What the local resolver's clients look up, as aggregates (no client is ever shown)."),
    h("div", { class: "two-col" }, h("div", {}, h("h3", {}, "Top domains"), domains), h("div", {}, h("h3", {}, "Top destination ASes"), asns)));
  show(domains, "/dns/top-domains");
  show(asns, "/dns/top-asns");
}

async function show(section, path) {
  try {
    const answer = await api(path);
    const rows = Array.isArray(answer) ? answer : answer.items ?? answer.domains ?? answer.asns ?? answer.results ?? [];
    if (!rows.length) { mount(section, empty("Nothing counted yet.")); return; }
    const columns = Object.keys(rows[0]).filter((k) => typeof rows[0][k] !== "object" || rows[0][k] === null);
    mount(section, h("table", {},
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", {}, c.replace(/([A-Z])/g, " $1").toLowerCase())))),
      h("tbody", {}, rows.map((r) => h("tr", {}, columns.map((c) => h("td", { class: typeof r[c] === "number" ? "num" : "" },
        c.toLowerCase() === "asn" ? h("a", { href: `#/asn/${r[c]}` }, `AS${r[c]}`) : typeof r[c] === "number" ? fmt.num(r[c]) : r[c] ?? "–")))))));
  } catch (e) {
    mount(section, e.status === 404
      ? empty("No DNS statistics on this node: the DNS collector is not set up (or this node has no DNS endpoints).")
      : problemBox(e));
  }
}
