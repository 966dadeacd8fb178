// The bundle's entry: what bin/secretfile calls (and what the build runs to make the V8 code cache).
// Rules: nothing runs on load; the launcher runs `main` and sets the exit code, the only place that ends the work.

export { main } from "./main.js";
