// One linter for the whole tree. Type-aware rules catch the mistakes that
// matter in a controller: a promise nobody awaits is a write nobody checks.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/", "dist/", ".cache/", "coverage/", "**/*.js", "**/*.mjs"] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/explicit-module-boundary-types": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/require-await": "off",
      "max-depth": ["error", 4],
    },
  },
  {
    // Planners are pure: no I/O, no clients, no clock of their own (docs/adr/0001).
    files: ["src/reconciler/*/plan.ts"],
    rules: {
      "no-restricted-imports": ["error", {
        patterns: ["**/actuators/**", "**/sources/**", "node:*", "axios", "consul", "node-vault"],
      }],
    },
  },
  {
    // Tests assert on JSON replies whose shapes are checked at run time.
    files: ["test/**/*.ts", "bench/**/*.ts"],
    rules: {
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/no-unsafe-call": "off",
      "@typescript-eslint/explicit-module-boundary-types": "off",
      // Tests walk API JSON whose shape is what they assert; `any` there is honest.
      "@typescript-eslint/no-explicit-any": "off",
    },
  },
);
