import cytoscape from "cytoscape";
import { api } from "../api.js";
import { h, mount, fmt, problemBox, empty } from "../dom.js";

export function graphPage(root, asn) {
  let cy = null;
  let depth = 2;
  const input = h("input", { id: "graph-asn", value: asn ?? "", placeholder: "64500", required: true, maxlength: 12 });
  const depthSelect = h("select", { id: "graph-depth", onchange: () => { depth = Number(depthSelect.value); load(); } },
    [1, 2, 3].map((d) => h("option", { value: d, selected: d === depth }, `${d} AS hop${d > 1 ? "s" : ""}`)));
  const canvas = h("div", { id: "graph", class: "graph" });
  const side = h("aside", { class: "graph-side" });
  const note = h("p", { class: "muted" });
  const form = h("form", { class: "inline-form", onsubmit: (e) => { e.preventDefault(); location.hash = `#/graph/${input.value.trim().replace(/^as/i, "")}`; } },
    h("label", { for: "graph-asn" }, "Centre AS"), input, h("label", { for: "graph-depth" }, "Depth"), depthSelect, h("button", { type: "submit" }, "Show"));
  mount(root, h("h1", {}, "AS graph"), form, note, h("div", { class: "graph-wrap" }, canvas, side));
  if (!asn) {
    mount(side);
    canvas.replaceWith(empty("Enter an AS number to see the ASes around it, as this node observed them."));
    return;
  }
  load();

  async function load() {
    mount(side, h("p", { class: "muted" }, "Loading…"));
    try {
      const topology = await api(`/graph/topology?asn=${encodeURIComponent(asn)}&depth=${depth}&limit=80`);
      const centre = topology.asn;
      const maxObserved = Math.max(1, ...topology.edges.map((e) => e.observedCount));
      note.textContent = `${topology.nodes.length} ASes and ${topology.edges.length} AS edges within ${topology.depth} hop(s) of AS${centre}`
        + `${topology.truncated ? " (truncated)" : ""}. Drag to move, scroll to zoom, click an AS to centre on it; edge thickness follows observations, a dashed edge is an indirect link; `
        + `colour is the inferred relationship: blue provider→customer, green peers, grey unknown.`;
      if (cy) cy.destroy();
      cy = cytoscape({
        container: canvas,
        elements: [
          ...topology.nodes.map((n) => ({ data: { id: `${n.asn}`, label: `AS${n.asn}`, distance: n.distance, degree: n.degree } })),
          ...topology.edges.map((e) => ({ data: { id: `${e.srcAsn}-${e.dstAsn}`, source: `${e.srcAsn}`, target: `${e.dstAsn}`,
            width: 1 + 7 * Math.log1p(e.observedCount) / Math.log1p(maxObserved), kind: e.kind,
            relationship: e.relationship?.kind ?? "unknown", edge: e } })),
        ],
        style: [
          { selector: "node", style: {
            label: "data(label)", "font-size": 11, "text-valign": "bottom", "text-margin-y": 5, color: "#1f2937",
            "text-background-color": "#ffffff", "text-background-opacity": 0.85, "text-background-padding": 2, "text-background-shape": "roundrectangle",
            "background-color": "#4dabf7", width: 22, height: 22, "border-width": 2, "border-color": "#1c7ed6" } },
          { selector: "node[distance = 0]", style: { "background-color": "#d9480f", "border-color": "#a5360b", width: 34, height: 34, "font-weight": "bold" } },
          { selector: "node[distance = 2]", style: { "background-color": "#a5d8ff" } },
          { selector: "node[distance >= 3]", style: { "background-color": "#d0ebff" } },
          { selector: "edge", style: { width: "data(width)", "line-color": "#adb5bd", "target-arrow-color": "#adb5bd",
            "target-arrow-shape": "triangle", "curve-style": "bezier", "arrow-scale": 0.8 } },
          // Seen only across unresponsive hops: adjacent as far as the traces show, not proven.
          { selector: "edge[kind = 'indirect']", style: { "line-style": "dashed" } },
          // Inferred business relationship (read from the edge's source AS); a c2p edge points up to the provider.
          { selector: "edge[relationship = 'p2c'], edge[relationship = 'c2p']", style: { "line-color": "#1c7ed6", "target-arrow-color": "#1c7ed6" } },
          { selector: "edge[relationship = 'p2p']", style: { "line-color": "#2f9e44", "target-arrow-color": "#2f9e44" } },
          { selector: "node:selected", style: { "border-color": "#000", "border-width": 3 } },
          { selector: "edge:selected", style: { "line-color": "#d9480f", "target-arrow-color": "#d9480f" } },
        ],
        layout: { name: "concentric", concentric: (n) => 10 - n.data("distance"), levelWidth: () => 1, minNodeSpacing: 50, spacingFactor: 1.4, animate: false },
        wheelSensitivity: 0.3,
      });
      // A handful of ASes would otherwise be blown up to fill the canvas.
      if (cy.zoom() > 1.2) { cy.zoom(1.2); cy.center(); }
      cy.on("tap", "node", (evt) => {
        const next = evt.target.id();
        if (next !== `${centre}`) location.hash = `#/graph/${next}`;
      });
      cy.on("tap", "edge", (evt) => showEdge(evt.target.data("edge")));
      showNode(topology.nodes.find((n) => n.distance === 0), topology);
    } catch (e) {
      if (cy) { cy.destroy(); cy = null; }
      mount(side, e.status === 404 ? empty(e.detail) : problemBox(e));
    }
  }

  function showNode(node, topology) {
    mount(side,
      h("h3", {}, `AS${node.asn}`),
      h("p", {}, `${node.degree} neighbor(s) in the graph; ${topology.nodes.length - 1} AS(es) shown around it.`),
      h("p", {}, h("a", { href: `#/asn/${node.asn}` }, "ASN details →")),
      h("p", { class: "muted" }, "Click an edge for its statistics."));
  }

  function showEdge(e) {
    mount(side,
      h("h3", {}, `AS${e.srcAsn} → AS${e.dstAsn}`),
      h("dl", { class: "kv" },
        h("dt", {}, "Observations"), h("dd", {}, fmt.num(e.observedCount)),
        h("dt", {}, "Link"), h("dd", {}, e.kind === "indirect"
          ? `indirect (only across unresponsive hops, ${e.minGapHops ?? "?"} at fewest)`
          : `direct${e.indirectCount ? ` (${fmt.num(e.directCount)} direct, ${fmt.num(e.indirectCount)} across unresponsive hops)` : ""}`),
        h("dt", {}, "RTT min / avg / max"), h("dd", {}, `${fmt.ms(e.minRttMs)} / ${fmt.ms(e.avgRttMs)} / ${fmt.ms(e.maxRttMs)}`),
        h("dt", {}, "Relationship"), h("dd", {}, relationshipText(e)),
        h("dt", {}, "IXP"), h("dd", {}, e.ixp || "–"),
        h("dt", {}, "First seen"), h("dd", {}, fmt.time(e.firstSeen)),
        h("dt", {}, "Last seen"), h("dd", {}, fmt.time(e.lastSeen)),
        h("dt", {}, "Vantage points"), h("dd", {}, (e.vantages || []).join(", ") || "–")));
  }

  function relationshipText(e) {
    const r = e.relationship;
    if (!r || r.kind === "unknown") return "unknown (no path shows it yet)";
    const what = r.kind === "p2p" ? `AS${e.srcAsn} and AS${e.dstAsn} peer`
      : r.kind === "p2c" ? `AS${e.srcAsn} is AS${e.dstAsn}'s provider` : `AS${e.srcAsn} is AS${e.dstAsn}'s customer`;
    return `${what} (${r.kind}; from ${r.source}, ${r.basis}, confidence ${r.confidence})`;
  }

  return () => { if (cy) cy.destroy(); };
}
