import { api } from "../api.js";
import { h, mount, fmt, asnLink, problemBox, empty } from "../dom.js";

export function asnPage(root, asn) {
  const input = h("input", { id: "asn-input", value: asn ?? "", placeholder: "64500 or AS64500", required: true, maxlength: 12 });
  const body = h("div", {});
  const form = h("form", { class: "inline-form", onsubmit: (e) => { e.preventDefault(); location.hash = `#/asn/${input.value.trim().replace(/^as/i, "")}`; } },
    h("label", { for: "asn-input" }, "ASN"), input, h("button", { type: "submit" }, "Show"));
  mount(root, h("h1", {}, asn ? `AS${String(asn).replace(/^as/i, "")}` : "ASN explorer"), form, body);
  if (!asn) {
    mount(body, empty("Enter an AS number, or click an AS anywhere in the looking glass."));
    return;
  }
  load();

  async function load() {
    mount(body, h("p", { class: "muted" }, "Loading…"));
    try {
      const details = await api(`/asn/${encodeURIComponent(asn)}`);
      const info = details.asn;
      const neighbors = [...details.neighbors].sort((a, b) => observed(b) - observed(a));
      mount(body,
        h("dl", { class: "stats" },
          stat("Organisation", info.orgName || "unknown"), stat("Country", info.country || "–"),
          stat("Measurements through it", fmt.num(info.measurementCount)), stat("Avg first-hop RTT", fmt.ms(info.avgRttMs)),
          stat("First seen", fmt.time(info.firstSeen)), stat("Last seen", fmt.time(info.lastSeen)), stat("Neighbors", neighbors.length)),
        h("p", {}, h("a", { class: "button", href: `#/graph/${info.asn}` }, "Show in the AS graph →")),
        h("h3", {}, "Neighbors"),
        neighbors.length ? h("table", { class: "neighbors" },
          h("thead", {}, h("tr", {}, ["Neighbor", "Direction", "Observations", "RTT min / avg / max", "IXP", "Last seen"].map((c) => h("th", {}, c)))),
          h("tbody", {}, neighbors.map((n) => {
            const edge = n.out ?? n.in;
            return h("tr", {},
              h("td", {}, asnLink(n.asn)),
              h("td", {}, n.out && n.in ? "both ways" : n.out ? `AS${info.asn} → AS${n.asn}` : `AS${n.asn} → AS${info.asn}`),
              h("td", { class: "num" }, fmt.num(observed(n))),
              h("td", { class: "num" }, `${fmt.ms(edge.minRttMs)} / ${fmt.ms(edge.avgRttMs)} / ${fmt.ms(edge.maxRttMs)}`),
              h("td", {}, n.out?.ixp || n.in?.ixp || ""),
              h("td", {}, fmt.time(maxDate(n.out?.lastSeen, n.in?.lastSeen))));
          }))) : empty("No neighbor observed."));
    } catch (e) {
      mount(body, e.status === 404 ? empty(e.detail) : problemBox(e));
    }
  }
}

const observed = (n) => (n.out?.observedCount ?? 0) + (n.in?.observedCount ?? 0);
const maxDate = (a, b) => (!a ? b : !b ? a : a > b ? a : b);

function stat(label, value) {
  return h("div", {}, h("dt", {}, label), h("dd", {}, value));
}
