// Screenshot aid, present only in `vite build --mode demo` bundles (see
// main.ts); production bundles never contain it. It answers from made-up
// data only when the page is opened with `?demo`, and says so on screen.

import { setBackend } from "../lib/backend";
import { demoCommands } from "./demoCommands";

export function startDemoIfRequested(): void {
  if (!new URLSearchParams(window.location.search).has("demo")) return;
  setBackend(demoCommands());
  const badge = document.createElement("div");
  badge.textContent = "DEMO DATA: screenshot build, not a real backend";
  badge.setAttribute("style", "position:fixed;bottom:8px;right:8px;padding:2px 8px;font:11px monospace;background:#a65300;color:#fff;border-radius:4px;z-index:10");
  document.body.append(badge);
}
