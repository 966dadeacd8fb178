// The linter (`npm run lint`): typescript-eslint's strict type-checked rules over src/, test/, bench/, build/, bin/.
// Rules: every rule stays on unless relaxed below with its reason; a per-line disable says why the rule is wrong there.
import js from "@eslint/js";
import { defineConfig } from "eslint/config";
import globals from "globals";
import tseslint from "typescript-eslint";

export default defineConfig(
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
      // `const { ok: _ok, ...rest } = x` is how this code drops fields from a copy; `_name` marks an unused argument.
      "@typescript-eslint/no-unused-vars": ["error", { ignoreRestSiblings: true, argsIgnorePattern: "^_" }],
      // Messages and file names interpolate counts, ports, uids and flags; String() around each would only add noise.
      "@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true, allowBoolean: true }],
      // noUncheckedIndexedAccess makes `xs[i]!` after a checked index (or a regex group that must match) the idiom.
      "@typescript-eslint/no-non-null-assertion": "off",
      // `() => void f()` and `(x) => set.add(x)` style callbacks read better than braces around one statement.
      "@typescript-eslint/no-confusing-void-expression": ["error", { ignoreArrowShorthand: true }],
      // An `async` function without `await` is how this code keeps "fails by rejecting, never by throwing" for an
      // implementation of a Promise-returning interface (`throw noApprovals()`, a spawn that may throw); dropping
      // `async`, the rule's fix, would turn those rejections into synchronous throws. await-thenable stays on.
      "@typescript-eslint/require-await": "off",
      // Strings are spread on purpose to walk or count code points (a mask's minimum length, a quoted name cut at 40,
      // bech32's ASCII): never splitting a surrogate pair is the point, and graphemes are never what is meant.
      "@typescript-eslint/no-misused-spread": ["error", { allow: [{ from: "lib", name: "string" }] }],
      // Passing on a caught `unknown` unchanged (`(err: unknown) => reject(err)`) forwards the original failure.
      "@typescript-eslint/prefer-promise-reject-errors": ["error", { allowThrowingUnknown: true }],
    },
  },
  {
    // vitest's asymmetric matchers (`expect.any(String)`, `expect.stringMatching(...)`) are typed `any` by design, and
    // tests put them in the objects they compare; no-unsafe-member-access/-call/-return still catch an untyped parse.
    files: ["test/**/*.ts"],
    rules: { "@typescript-eslint/no-unsafe-assignment": "off" },
  },
  {
    // The .mjs scripts (bench/, build/, test fixtures) are not in the TypeScript project: lint them without types.
    files: ["**/*.mjs", "**/*.js", "bin/secretfile"],
    extends: [tseslint.configs.disableTypeChecked],
  },
  {
    // The launcher is a CommonJS script (it must start before any ES module loader): require() is how it loads.
    files: ["bin/secretfile"],
    languageOptions: { sourceType: "commonjs" },
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
);
