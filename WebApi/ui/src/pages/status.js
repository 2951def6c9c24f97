import { api } from "../api.js";
import { h, mount, fmt, problemBox } from "../dom.js";
import { listVantages, statusBadge, vantageColors, vantageSwatch } from "../vantages.js";

export function statusPage(root) {
  const body = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  mount(root, h("h1", {}, "Status"), body);
  load();

  async function load() {
    const [info, health, vantages] = await Promise.all([
      api("/service-info").catch((e) => e),
      fetch("/health").then((r) => r.json()).catch((e) => e),
      listVantages(),
    ]);
    const colors = vantageColors((vantages ?? []).map((v) => v.name));
    mount(body,
      info instanceof Error ? problemBox(info) : h("dl", { class: "stats" },
        stat("Vantage", info.vantage), stat("Version", info.version.split("+")[0]), stat("Cluster", info.clusterId),
        stat("Silos", info.siloCount), stat("API up since", fmt.time(info.startedAt))),
      health instanceof Error ? problemBox(health) : h("div", {},
        h("h3", {}, "Health ", h("span", { class: `badge ${health.status.toLowerCase()}` }, health.status)),
        h("table", { id: "health-table" },
          h("thead", {}, h("tr", {}, ["Check", "Status", "Detail", "Took"].map((c) => h("th", {}, c)))),
          h("tbody", {}, Object.entries(health.checks).map(([name, c]) => h("tr", {},
            h("td", {}, name), h("td", {}, h("span", { class: `badge ${c.status.toLowerCase()}` }, c.status)),
            h("td", {}, c.description || ""), h("td", { class: "num" }, `${c.duration_ms} ms`)))))),
      !vantages?.length ? null : h("div", {},
        h("h3", {}, "Vantage points ", h("a", { href: "#/vantages", class: "more" }, "details →")),
        h("table", { id: "vantage-table" },
          h("thead", {}, h("tr", {}, ["Vantage", "Status", "Silos answering", "Origin AS", "Due now", "Overdue", "Last seen"].map((c, i) =>
            h("th", { class: i === 2 || i === 4 || i === 5 ? "num" : "" }, c)))),
          h("tbody", {}, vantages.map((v) => h("tr", { "data-vantage": v.name },
            h("td", {}, vantageSwatch(colors.get(v.name)), " ", h("a", { href: "#/vantages" }, v.name)),
            h("td", {}, statusBadge(v.status)),
            h("td", { class: "num" }, `${v.silos.filter((s) => s.answering).length} / ${v.silos.length}`),
            h("td", {}, v.originAsn != null ? `AS${v.originAsn}` : "–"),
            h("td", { class: "num" }, fmt.num(v.schedule.dueNow)),
            h("td", { class: "num" }, fmt.num(v.schedule.overdue)),
            h("td", {}, fmt.time(v.lastSeen))))))),
      info instanceof Error || !info.silos.length ? null : h("div", {},
        h("h3", {}, "Silos"),
        h("table", {},
          h("thead", {}, h("tr", {}, ["Silo", "Address", "Status", "Started"].map((c) => h("th", {}, c)))),
          h("tbody", {}, info.silos.map((s) => h("tr", {}, h("td", {}, s.name), h("td", {}, s.address), h("td", {}, s.status), h("td", {}, fmt.time(s.startedAt))))))),
      h("h3", {}, "More"),
      h("ul", {},
        h("li", {}, h("a", { href: "/docs" }, "API reference"), " (OpenAPI at ", h("a", { href: "/openapi/v1.json" }, "/openapi/v1.json"), ")"),
        h("li", {}, h("a", { href: "/dashboard/" }, "Orleans dashboard"), " (admin key; the browser asks for it as the password)"),
        h("li", {}, h("a", { href: "/metrics" }, "Prometheus metrics"))));
  }
}

function stat(label, value) {
  return h("div", {}, h("dt", {}, label), h("dd", {}, value ?? "–"));
}
