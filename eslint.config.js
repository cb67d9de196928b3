// ESLint for the pages' scripts (api/static/, native ES modules served as they are) and their
// Node tests (tests/js/); `bash scripts/lint.sh` (make lint, make test) runs it.
import js from "@eslint/js";
import globals from "globals";

export default [
  { ignores: ["node_modules/", ".venv/", ".venv-rasa/", "results/", "var/"] },
  js.configs.recommended,
  {
    files: ["api/static/**/*.js"],
    languageOptions: { ecmaVersion: 2022, sourceType: "module", globals: globals.browser },
  },
  {
    // Run while the portal's <head> is parsed, before the first paint: a classic script.
    files: ["api/static/elder.js"],
    languageOptions: { sourceType: "script" },
  },
  {
    files: ["tests/js/**/*.js", "eslint.config.js"],
    languageOptions: { ecmaVersion: 2022, sourceType: "module", globals: globals.node },
  },
];
