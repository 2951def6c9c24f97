// Builds elements from data with textContent only, so nothing from the API is ever parsed as HTML.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function mount(root, ...children) {
  root.replaceChildren();
  append(root, children);
}

export const fmt = {
  ms: (v) => (v === null || v === undefined ? "–" : `${Number(v).toFixed(v < 10 ? 2 : 1)} ms`),
  pct: (v) => (v === null || v === undefined ? "–" : `${Number(v).toFixed(Number.isInteger(v) ? 0 : 1)} %`),
  time: (v) => {
    if (!v) return "–";
    const d = new Date(v);
    const sameYear = d.getFullYear() === new Date().getFullYear();
    return d.toLocaleString(undefined, { year: sameYear ? undefined : "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
  },
  num: (v) => (v === null || v === undefined ? "–" : Number(v).toLocaleString()),
};

export function asnLink(asn) {
  return h("a", { href: `#/asn/${asn}`, class: "asn" }, `AS${asn}`);
}

export function problemBox(error) {
  const needsKey = error.status === 401 || error.status === 403;
  return h("div", { class: "problem", role: "alert" },
    h("strong", {}, error.title || "Request failed"),
    error.status ? h("span", { class: "status" }, ` ${error.status}`) : null,
    h("p", {}, error.detail || error.message),
    needsKey ? h("p", { class: "hint" }, "Set an API key with the button at the top right.") : null);
}

export function empty(text, ...more) {
  return h("div", { class: "empty" }, h("p", {}, text), ...more);
}
