// Line icons as inline SVG (shapes after Feather, MIT): no icon font, no emoji font needed.
const PATHS = {
  paperclip: "M21.44 11.05l-9.19 9.19a6 6 0 0 1-8.49-8.49l9.19-9.19a4 4 0 0 1 5.66 5.66l-9.2 9.19a2 2 0 0 1-2.83-2.83l8.49-8.48",
  lock: "M5 11h14a2 2 0 0 1 2 2v7a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2v-7a2 2 0 0 1 2-2zM7 11V7a5 5 0 0 1 10 0v4",
  hash: "M4 9h16M4 15h16M10 3 8 21M16 3l-2 18",
  file: "M13 2H6a2 2 0 0 0-2 2v16a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V9zM13 2v7h7",
  download: "M21 15v4a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2v-4M7 10l5 5 5-5M12 15V3",
  send: "M22 2 11 13M22 2l-7 20-4-9-9-4 20-7z",
  refresh: "M23 4v6h-6M20.49 15a9 9 0 1 1-2.12-9.36L23 10",
  plus: "M12 5v14M5 12h14",
  back: "M19 12H5M12 19l-7-7 7-7",
  clock: "M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zM12 6v6l4 2",
  check: "M20 6 9 17l-5-5",
  checks: "M17 6 7 16l-4.5-4.5M22 6.5 12 16.5l-1.5-1.5",
  alert: "M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zM12 8v4M12 16h.01",
  close: "M18 6 6 18M6 6l12 12",
};

const NS = "http://www.w3.org/2000/svg";

export function icon(name) {
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", `icon-svg icon-${name}`);
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const path = document.createElementNS(NS, "path");
  path.setAttribute("d", PATHS[name]);
  svg.append(path);
  return svg;
}

// Fills the page's static placeholders: <span data-icon="plus"></span>.
export function fillIcons(root = document) {
  for (const el of root.querySelectorAll("[data-icon]")) if (!el.firstChild) el.append(icon(el.dataset.icon));
}
