// The bundle's entry: run the CLI and set the exit code (the only place that ends the process's work).

import { main } from "./main.js";

process.exitCode = await main(process.argv.slice(2));
