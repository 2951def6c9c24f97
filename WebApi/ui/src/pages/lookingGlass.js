import { api } from "../api.js";
import { h, mount, fmt, asnLink, problemBox, empty } from "../dom.js";
import { listVantages, vantageColors, vantageSwatch } from "../vantages.js";

const METHODS = [
  ["traceroute", "icmp-paris", "Traceroute · ICMP Paris"],
  ["traceroute", "udp-paris", "Traceroute · UDP Paris"],
  ["traceroute", "tcp", "Traceroute · TCP"],
  ["traceroute", "icmp", "Traceroute · ICMP"],
  ["traceroute", "udp", "Traceroute · UDP"],
  ["mtr", "icmp", "MTR · ICMP (5 cycles)"],
  ["ping", null, "Ping (5 echo requests)"],
];

// What was typed last, so the form survives a visit to another page or a new API key.
const last = { target: "", method: "0", from: "all" };

// What a vantage's own error status means, for its column.
const VANTAGE_ERRORS = {
  429: "Cooling down",
  503: "Vantage down",
  504: "No answer in time",
};

export function lookingGlass(root, { target = "" }) {
  const input = h("input", { id: "lg-target", name: "target", required: true, maxlength: 253, value: target || last.target,
    placeholder: "IP address or host name", autocomplete: "off", spellcheck: "false" });
  const select = h("select", { id: "lg-method", name: "method" },
    METHODS.map(([, , label], i) => h("option", { value: i, selected: String(i) === last.method }, label)));
  // Filled from /vantages; until then (or without it) the probe runs from this node's vantage as before.
  const from = h("select", { id: "lg-vantage", name: "vantage", disabled: true }, h("option", { value: "" }, "this node"));
  input.addEventListener("input", () => { last.target = input.value; });
  select.addEventListener("change", () => { last.method = select.value; });
  from.addEventListener("change", () => { last.from = from.value; });
  const button = h("button", { type: "submit", id: "lg-run" }, "Run");
  const result = h("section", { id: "lg-result", "aria-live": "polite" });
  const recent = h("section", { class: "recent" });

  const form = h("form", { class: "lg-form", id: "lg-form", onsubmit: (e) => { e.preventDefault(); run(); } },
    h("label", { for: "lg-target" }, "Target"), input,
    h("label", { for: "lg-method" }, "Method"), select,
    h("label", { for: "lg-vantage" }, "From"), from, button);
  let colors = new Map();

  async function loadVantages() {
    const vantages = await listVantages();
    if (!vantages?.length) return;
    colors = vantageColors(vantages.map((v) => v.name));
    if (![...vantages.map((v) => v.name), "all"].includes(last.from)) last.from = "all";
    mount(from,
      h("option", { value: "all", selected: last.from === "all" }, `all (${vantages.length})`),
      vantages.map((v) => h("option", { value: v.name, selected: last.from === v.name }, v.status === "up" ? v.name : `${v.name} (${v.status})`)));
    from.disabled = false;
  }

  async function run() {
    const [tool, method] = METHODS[Number(select.value)];
    last.target = input.value;
    last.method = select.value;
    const body = { target: input.value.trim() };
    if (method) body.method = method;
    if (from.value) body.vantages = from.value === "all" ? "all" : [from.value];
    button.disabled = true;
    const where = !from.value ? "" : from.value === "all" ? " from every vantage point" : ` from ${from.value}`;
    mount(result, h("div", { class: "running" }, h("span", { class: "spinner" }), ` Probing ${body.target}${where}…`));
    try {
      const answer = await api(`/${tool}/run`, { method: "POST", body });
      mount(result, answer.results ? renderVantageResults(answer, colors) : renderResult(answer));
      loadRecent();
    } catch (e) {
      mount(result, problemBox(e));
    } finally {
      button.disabled = false;
    }
  }

  async function loadRecent() {
    try {
      const page = await api("/targets?limit=12");
      if (!page.items.length) { mount(recent); return; }
      mount(recent, h("h3", {}, "Targets measured by this node"),
        h("ul", { class: "chips" }, page.items.map((t) => h("li", {}, h("a", { href: `#/target/${t.ip}` }, t.ip)))),
        page.next ? h("p", {}, h("a", { href: "#/targets" }, "all targets →")) : null);
    } catch {
      mount(recent);
    }
  }

  mount(root,
    h("h1", {}, "Looking glass"),
    h("p", { class: "lead" }, "Traceroute, MTR and ping from one vantage point or all of them, with every hop mapped to its AS."),
    form, result, recent);
  loadRecent();
  // A target in the URL runs once the picker knows the vantages, so it runs from the same place as the form would.
  loadVantages().finally(() => { if (target) run(); });
}

/** One column per vantage point, each with its own measurement or its own error. */
export function renderVantageResults({ target, results }, colors) {
  const ok = results.filter((r) => r.status === 200).length;
  return h("div", { class: "vantage-results-wrap" },
    h("div", { class: "result-head" },
      h("div", {},
        h("h2", {}, `${target} from ${results.length} vantage point${results.length === 1 ? "" : "s"}`),
        h("span", { class: "muted" }, `${ok} answered${ok < results.length ? `, ${results.length - ok} did not` : ""}`)),
      h("a", { class: "button secondary", href: `#/target/${target}` }, "History of this target →")),
    h("div", { class: "vantage-results", style: `--columns:${Math.min(results.length, 3)}` },
      results.map((r) => h("section", { class: `vantage-column${r.status === 200 ? "" : " failed"}`, "data-vantage": r.vantage },
        h("h3", { class: "vantage-name" }, vantageSwatch(colors.get(r.vantage) ?? "#868e96"), ` ${r.vantage} `,
          h("span", { class: `badge ${r.status === 200 ? "up" : "down"}` }, r.status === 200 ? "answered" : `${r.status}`)),
        r.status === 200
          ? renderResult(r, { compact: true })
          : h("div", { class: "problem", role: "alert" },
            h("strong", {}, VANTAGE_ERRORS[r.status] ?? "Failed"), h("span", { class: "status" }, ` ${r.status}`),
            h("p", {}, r.error || "no reason given"))))));
}

export function renderResult({ measurement: m, hops, summary: s }, { compact = false } = {}) {
  const failed = !m.success;
  const kind = m.tool === "mtr" ? "MTR" : m.method === "ping" ? "Ping" : "Traceroute";
  return h("div", { class: compact ? "result compact" : "result" },
    compact
      ? h("p", { class: "muted" }, `${kind} · ${m.method} · ${fmt.time(m.startedAt)} · measurement #${m.id}`)
      : h("div", { class: "result-head" },
        h("div", {},
          h("h2", {}, `${kind} to ${m.target}`),
          h("span", { class: "muted" }, `${m.method} · ${fmt.time(m.startedAt)} · vantage ${m.vantage} · measurement #${m.id}`)),
        h("a", { class: "button secondary", href: `#/target/${m.target}` }, "History of this target →")),
    failed ? h("div", { class: "problem" }, h("strong", {}, "Probe failed"), h("p", {}, m.failureReason || m.stopReason || "no reason given")) : null,
    h("dl", { class: "stats" },
      stat("Hops", s.hopCount), stat("Responding", s.respondingHops), stat("Loss", fmt.pct(s.lossPct)),
      stat("RTT min", fmt.ms(s.rttMinMs)), stat("RTT avg", fmt.ms(s.rttAvgMs)), stat("RTT max", fmt.ms(s.rttMaxMs)),
      stat("ASes", s.asCount), stat("Countries", s.countries.length ? s.countries.join(" → ") : "–"),
      stat("Reached", s.reachedTarget ? "yes" : "no")),
    asPathStrip(s.asPath, s.asSteps),
    hopTable(hops ?? [], m.tool === "mtr"));
}

function stat(label, value) {
  return h("div", {}, h("dt", {}, label), h("dd", {}, value));
}

// steps[i] says how asPath[i] reached asPath[i + 1]: an indirect step (seen only across silent, private or
// unmapped hops) is drawn with a dashed arrow.
export function asPathStrip(asPath, steps) {
  if (!asPath?.length) return h("p", { class: "muted as-path" }, "No hop mapped to an AS (private or unannounced addresses).");
  return h("ol", { class: "as-path", "aria-label": "AS path" },
    asPath.map((asn, i) => {
      const indirect = i > 0 && steps?.[i - 1]?.kind === "indirect";
      return h("li", indirect ? { class: "indirect", title: `AS${asPath[i - 1]} → AS${asn}: indirect, seen only across unresponsive hops` } : {},
        h("a", { href: `#/asn/${asn}` }, `AS${asn}`));
    }));
}

function hopTable(hops, isMtr) {
  if (!hops.length) return empty("No hops.");
  let lastTtl = null;
  return h("table", { class: "hops" },
    h("thead", {}, h("tr", {}, ["TTL", "Address", "AS", "Country", "IXP", isMtr ? "RTT best / avg / worst" : "RTT", "Loss"].map((c, i) =>
      h("th", { class: i === 0 || i >= 5 ? "num" : "" }, c)))),
    h("tbody", {}, hops.map((hop) => {
      const first = hop.ttl !== lastTtl;
      lastTtl = hop.ttl;
      const silent = !hop.address;
      return h("tr", { class: silent ? "silent" : first ? "" : "extra" },
        h("td", { class: "num" }, first ? hop.ttl : ""),
        h("td", { class: "addr" }, silent ? "*" : hop.address,
          hop.addressClass && hop.addressClass !== "global" ? h("span", { class: "tag" }, hop.addressClass.replace("_", " ")) : null,
          hop.hostname ? h("span", { class: "hostname", title: "reverse DNS (PTR)" }, hop.hostname) : null),
        h("td", {}, hop.asn != null ? [asnLink(hop.asn), hop.org ? h("span", { class: "org" }, ` ${hop.org}`) : null] : "–"),
        h("td", {}, hop.country || "–", hop.city ? h("span", { class: "org" }, ` ${hop.city}`) : null,
          hop.geoImplausible ? h("span", { class: "tag", title: "farther from the vantage point than light in fibre goes in half this RTT: the database is wrong here" }, "implausible") : null),
        h("td", {}, hop.ixp || ""),
        h("td", { class: "num" }, isMtr && hop.rttBestMs != null
          ? `${fmt.ms(hop.rttBestMs)} / ${fmt.ms(hop.rttMs)} / ${fmt.ms(hop.rttWorstMs)}`
          : fmt.ms(hop.rttMs)),
        h("td", { class: "num" }, hop.lossPct != null ? fmt.pct(hop.lossPct) : silent ? "100 %" : ""));
    })));
}
