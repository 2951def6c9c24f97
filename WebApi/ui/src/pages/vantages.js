import { api } from "../api.js";
import { h, mount, fmt, asnLink, problemBox, empty } from "../dom.js";
import { statusBadge, vantageColors, vantageSwatch } from "../vantages.js";

const REFRESH_MS = 10_000;

export function vantagesPage(root) {
  const body = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  const stamp = h("span", { class: "muted", id: "vantages-refreshed" });
  mount(root,
    h("div", { class: "title-row" }, h("h1", {}, "Vantage points"), stamp),
    h("p", { class: "lead" }, "Where the probes leave from. Each target is measured from every vantage point of its selection; a vantage is up while all its silos report in."),
    body);
  let stopped = false;
  let timer = null;

  async function load() {
    try {
      const vantages = await api("/vantages");
      if (stopped) return;
      stamp.textContent = `updated ${new Date().toLocaleTimeString()} · every ${REFRESH_MS / 1000} s`;
      if (!vantages.length) {
        mount(body, empty("No vantage point has registered yet: start a silo (CYBERWATCH_VANTAGE names its vantage)."));
      } else {
        const colors = vantageColors(vantages.map((v) => v.name));
        mount(body, h("div", { class: "vantage-grid" }, vantages.map((v) => vantageCard(v, colors.get(v.name)))));
      }
    } catch (e) {
      if (!stopped) mount(body, problemBox(e));
    } finally {
      if (!stopped) timer = setTimeout(load, REFRESH_MS);
    }
  }

  load();
  return () => { stopped = true; clearTimeout(timer); };
}

function vantageCard(v, color) {
  const answering = v.silos.filter((s) => s.answering).length;
  const sum = (key) => v.silos.filter((s) => s.answering).reduce((total, s) => total + s[key], 0);
  return h("section", { class: `vantage-card ${v.status}`, "data-vantage": v.name },
    h("div", { class: "vantage-head" },
      h("h2", {}, vantageSwatch(color), " ", v.name), statusBadge(v.status),
      h("span", { class: "muted" }, `${answering} of ${v.silos.length} silo${v.silos.length === 1 ? "" : "s"} answering · last seen ${fmt.time(v.lastSeen)}`)),
    h("dl", { class: "stats" },
      stat("Origin AS", v.originAsn != null ? asnLink(v.originAsn) : "–"),
      stat("Prefix", v.prefix ?? "–"),
      stat("Source addresses", v.sourceAddresses.length ? v.sourceAddresses.map((a) => h("code", { class: "source-address" }, a)) : "–", "wide"),
      stat("Scheduled pairs", fmt.num(v.schedule.pairs)),
      stat("Due now", fmt.num(v.schedule.dueNow)),
      stat("Overdue", fmt.num(v.schedule.overdue)),
      stat("Queued / running", `${fmt.num(sum("queued"))} / ${fmt.num(sum("running"))}`),
      stat("Probes last minute", fmt.num(sum("probesLastMinute")))),
    v.silos.length ? h("table", { class: "silos" },
      h("thead", {}, h("tr", {}, ["Silo", "Answering", "Engine", "Queued", "Running", "Rate / min", "Last minute", "Started", "Heartbeat"].map((c, i) =>
        h("th", { class: i >= 3 && i <= 6 ? "num" : "" }, c)))),
      h("tbody", {}, v.silos.map((s) => h("tr", { class: s.answering ? "" : "silent" },
        h("td", { class: "addr" }, s.silo),
        h("td", {}, s.answering ? "yes" : "no"),
        h("td", {}, s.probeEngine),
        h("td", { class: "num" }, fmt.num(s.queued)),
        h("td", { class: "num" }, fmt.num(s.running)),
        h("td", { class: "num" }, fmt.num(s.rateLimitPerMinute)),
        h("td", { class: "num" }, fmt.num(s.probesLastMinute)),
        h("td", {}, fmt.time(s.startedAt)),
        h("td", {}, ago(s.lastHeartbeat)))))) : empty("No silo serves this vantage now."));
}

function ago(time) {
  const seconds = Math.round((Date.now() - Date.parse(time)) / 1000);
  if (seconds < 90) return `${Math.max(0, seconds)} s ago`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
  return fmt.time(time);
}

function stat(label, value, className) {
  return h("div", { class: className }, h("dt", {}, label), h("dd", {}, value));
}
