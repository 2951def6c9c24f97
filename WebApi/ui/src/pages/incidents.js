// Incidents of the network watch: the list (open, or resolved/all in the last week) and one incident
// with its figures before (at opening) and after (at resolving), linked to the target's ping chart.
import { api } from "../api.js";
import { h, mount, fmt, problemBox, empty } from "../dom.js";
import { renderResult } from "./lookingGlass.js";

const STATES = [["Open", "open"], ["Resolved", "resolved"], ["All (7 days)", ""]];

function figures(f) {
  if (!f) return "–";
  // AS-path incidents keep the changed edge and each pair's path; vantage_down the status.
  if (f.changed_edge) return `AS path changed at AS${f.changed_edge.from_asn ?? "?"}: next AS${f.changed_edge.before_next_asn ?? " –"} → AS${f.changed_edge.after_next_asn ?? " –"}`;
  if (f.changed_hop) return `IP path changed after ${f.changed_hop.from ?? "the vantage point"}: ${f.changed_hop.before ?? "end"} → ${f.changed_hop.after ?? "end"}`;
  if (f.paths) return `${f.paths.length} path(s) now${f.resolution ? `, ${f.resolution}` : ""}`;
  if (f.status) return `vantage point ${f.status}`;
  return `median ${fmt.ms(f.median_rtt_ms)}, baseline ${fmt.ms(f.baseline_rtt_ms)}, loss ${fmt.pct(f.loss_pct)}`;
}

function duration(incident) {
  const end = incident.resolvedAt ? Date.parse(incident.resolvedAt) : Date.now();
  const minutes = Math.round((end - Date.parse(incident.openedAt)) / 60_000);
  return minutes < 120 ? `${minutes} min` : `${(minutes / 60).toFixed(1)} h`;
}

export function incidentsPage(root) {
  let state = "open";
  const list = h("div", {});
  const buttons = h("div", { class: "segmented", role: "group", "aria-label": "Incident state" },
    STATES.map(([label, value]) => h("button", { type: "button", "data-state": value, class: value === state ? "active" : "",
      onclick: () => { state = value; load(); } }, label)));

  async function load() {
    buttons.querySelectorAll("button").forEach((b) => b.classList.toggle("active", b.dataset.state === state));
    mount(list, h("p", { class: "muted" }, "Loading…"));
    try {
      const incidents = await api(`/incidents${state ? `?state=${state}` : ""}`);
      if (!incidents.length) { mount(list, empty(state === "open" ? "No incident open." : "No incident in the last 7 days.")); return; }
      mount(list, h("table", { class: "incidents", id: "incidents" },
        h("thead", {}, h("tr", {}, ["#", "Kind", "Targets", "Vantage points", "Opened", "Resolved", "Lasted", "At opening"].map((c) => h("th", {}, c)))),
        h("tbody", {}, incidents.map((i) => h("tr", { "data-state": i.state },
          h("td", {}, h("a", { href: `#/incident/${i.id}` }, `#${i.id}`)),
          h("td", {}, i.kind.replaceAll("_", " ")),
          h("td", {}, i.targets.map((t, n) => [n ? ", " : "", h("a", { href: `#/target/${t}` }, t)])),
          h("td", {}, i.vantages.join(", ")),
          h("td", {}, fmt.time(i.openedAt)),
          h("td", {}, i.resolvedAt ? fmt.time(i.resolvedAt) : h("strong", {}, "open")),
          h("td", { class: "num" }, duration(i)),
          h("td", {}, figures(i.before)))))));
    } catch (e) {
      mount(list, problemBox(e));
    }
  }

  mount(root, h("h1", {}, "Incidents"),
    h("p", { class: "lead" }, "Opened when a target's ping series from a vantage point is unreachable, lossy or slower than its baseline for several rounds in a row (resolved when clear for several rounds), when AS paths change at one AS edge or IP paths at one hop beyond the known ECMP branches (resolved when they are back), or when a vantage point is down."),
    buttons, list);
  load();
}

export function incidentPage(root, id) {
  const body = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  mount(root, h("h1", {}, `Incident #${id}`), body);
  api(`/incidents/${encodeURIComponent(id)}`).then((i) => mount(body,
    h("dl", { class: "stats" },
      stat("Kind", i.kind.replaceAll("_", " ")),
      stat("State", i.state),
      stat("Opened", fmt.time(i.openedAt)),
      stat("Resolved", i.resolvedAt ? fmt.time(i.resolvedAt) : "–"),
      stat("Lasted", duration(i))),
    h("table", {},
      h("tbody", {},
        h("tr", {}, h("th", {}, "Targets"), h("td", {}, i.targets.map((t, n) => [n ? ", " : "", h("a", { href: `#/target/${t}` }, t)]))),
        h("tr", {}, h("th", {}, "Vantage points"), h("td", {}, i.vantages.join(", "))),
        h("tr", {}, h("th", {}, "Before (round that opened it)"), h("td", {}, figures(i.before))),
        h("tr", {}, h("th", {}, "After (round that resolved it)"), h("td", {}, i.resolvedAt || i.after?.paths ? figures(i.after) : "still open")))),
    i.before?.paths ? pathTable(i) : null,
    evidenceSection(i),
    h("p", {}, "The target page shows the ping series around it.")))
    .catch((e) => mount(body, e.status === 404 ? empty(`No incident #${id}.`) : problemBox(e)));
}

// Each (target, vantage) of an AS-path incident: its AS path before the change and now.
function pathTable(i) {
  const now = new Map((i.after?.paths ?? []).map((p) => [`${p.target} ${p.vantage}`, p]));
  // AS paths are numbers, IP paths addresses (a silent hop is *).
  const asPath = (path) => (path ?? []).map((a) => (typeof a === "number" ? `AS${a}` : a ?? "*")).join(" ");
  const ip = i.kind === "ip_path";
  return h("table", { class: "incident-paths" },
    h("thead", {}, h("tr", {}, ["Target", "Vantage point", ip ? "IP path before" : "AS path before", ip ? "IP path now" : "AS path now"].map((c) => h("th", {}, c)))),
    h("tbody", {}, i.before.paths.map((p) => h("tr", {},
      h("td", {}, h("a", { href: `#/target/${p.target}` }, p.target)),
      h("td", {}, p.vantage),
      h("td", {}, asPath(p.as_path ?? p.ip_path)),
      h("td", {}, asPath(now.get(`${p.target} ${p.vantage}`)?.[ip ? "ip_path" : "as_path"]))))));
}

// The traceroute and MTR taken when it opened, per vantage and target; each stored measurement is drawn like a
// looking-glass result, loaded when its row is opened.
function evidenceSection(i) {
  const pieces = i.evidence ?? [];
  if (!pieces.length) {
    return h("section", { class: "incident-evidence" }, h("h2", {}, "Evidence at opening"),
      h("p", { class: "muted" }, i.targets.length ? "None yet (taken within seconds of opening, for incidents less than 10 minutes old)." : "None: this kind has no target to trace."));
  }
  return h("section", { class: "incident-evidence" }, h("h2", {}, "Evidence at opening"),
    pieces.map((e) => {
      const label = `${e.tool === "mtr" ? "MTR" : "Traceroute"} of ${e.target} from ${e.vantage}`;
      if (e.state !== "taken") {
        return h("p", { class: e.state === "failed" ? "problem" : "muted" }, `${label}: ${e.state === "failed" ? `not taken — ${e.failureReason}` : "being taken…"}`);
      }
      const body = h("div", {}, h("p", { class: "muted" }, "Loading…"));
      const details = h("details", { class: "evidence", "data-tool": e.tool },
        h("summary", {}, `${label} · ${fmt.time(e.takenAt)} · measurement #${e.measurementId}`), body);
      details.addEventListener("toggle", () => {
        if (!details.open || details.dataset.loaded) return;
        details.dataset.loaded = "1";
        Promise.all([api(`/measurements/${e.measurementId}`), api(`/measurements/${e.measurementId}/hops`), api(`/measurements/${e.measurementId}/summary`)])
          .then(([measurement, hops, summary]) => mount(body, renderResult({ measurement, hops, summary }, { compact: true })))
          .catch((err) => mount(body, problemBox(err)));
      });
      return details;
    }));
}

function stat(label, value) {
  return h("div", {}, h("dt", {}, label), h("dd", {}, value));
}
