// The linter: typescript-eslint's strict type-checked rules over src/, test/, bench/ and build/ (issue 16, item 4).
// Rules stay on unless relaxed below, each relaxation with its reason; a per-line disable must say why the rule is wrong there.
import js from "@eslint/js";
import globals from "globals";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "clients/", "native/", "pkg/", "**/*.cjs"] },
  js.configs.recommended,
  tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      globals: globals.node,
      parserOptions: {
        // vitest.config.ts is the one TypeScript file outside tsconfig.json's include (src, test, bench).
        projectService: { allowDefaultProject: ["vitest.config.ts"] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // Messages and file names interpolate counts, ports, uids and flags; String() around each would only add noise.
      "@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true, allowBoolean: true }],
      // noUncheckedIndexedAccess makes `xs[i]!` after a checked index (or a regex group that must match) the idiom.
      "@typescript-eslint/no-non-null-assertion": "off",
      // `() => void f()` and `(x) => set.add(x)` style callbacks read better than braces around one statement.
      "@typescript-eslint/no-confusing-void-expression": ["error", { ignoreArrowShorthand: true }],
    },
  },
  {
    // The .mjs scripts (bench/, build/, test fixtures) are not in the TypeScript project: lint them without types.
    files: ["**/*.mjs", "**/*.js"],
    extends: [tseslint.configs.disableTypeChecked],
  },
);
