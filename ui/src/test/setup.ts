// Runs around every vitest case: each case brings its own stand-in backend,
// so nothing a page cached from the previous case may leak into the next.

import { afterEach } from "vitest";
import { forgetEnvironments } from "../lib/environments";
import { forgetContext } from "../lib/context.svelte";
import { forgetIntent } from "../lib/intent";

afterEach(() => {
  forgetEnvironments();
  forgetContext();
  forgetIntent();
});
