import { mount } from "svelte";
import "./app.css";
import App from "./App.svelte";

async function start(target: HTMLElement): Promise<void> {
  // Only a `vite build --mode demo` bundle contains the demo backend: in every
  // other mode this condition is the constant `false` and the import is dropped.
  if (import.meta.env.MODE === "demo") {
    const demo = await import("./demo/start");
    demo.startDemoIfRequested();
  }
  mount(App, { target });
}

const target = document.getElementById("app");
if (!target) throw new Error("index.html has no #app element");
void start(target);
