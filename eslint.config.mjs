// ESLint with typescript-eslint's type-aware rules, and @stylistic as the formatter
// (`npm run format` = eslint --fix): one style, checked by `npm test`.
import js from "@eslint/js";
import stylistic from "@stylistic/eslint-plugin";
import tseslint from "typescript-eslint";

export default tseslint.config(
    { ignores: ["node_modules/**", "bin/**", "policy/node_modules/**", "**/*.js", "**/*.mjs", "**/*.cjs"] },
    js.configs.recommended,
    ...tseslint.configs.recommendedTypeChecked,
    {
        languageOptions: {
            parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
        },
        plugins: { "@stylistic": stylistic },
        rules: {
            // The provider SDKs' types are the schema check: no `any` anywhere in the program.
            "@typescript-eslint/no-explicit-any": "error",
            "@typescript-eslint/no-floating-promises": "error",
            "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
            // Formatting, as the code is written: 4 spaces, double quotes, semicolons, trailing commas in multi-line lists.
            "@stylistic/indent": ["error", 4, { SwitchCase: 1, flatTernaryExpressions: true }],
            "@stylistic/quotes": ["error", "double", { avoidEscape: true, allowTemplateLiterals: "always" }],
            "@stylistic/semi": ["error", "always"],
            "@stylistic/comma-dangle": ["error", "always-multiline"],
            "@stylistic/eol-last": ["error", "always"],
            "@stylistic/no-trailing-spaces": "error",
        },
    },
    {
        // Tests read the graph's JSON and the SDK's internals: the unsafe-* rules would only add casts.
        files: ["tests/**/*.ts", "policy/tests/**/*.ts"],
        rules: {
            "@typescript-eslint/no-unsafe-assignment": "off",
            "@typescript-eslint/no-unsafe-member-access": "off",
            "@typescript-eslint/no-unsafe-argument": "off",
            "@typescript-eslint/no-unsafe-call": "off",
            "@typescript-eslint/no-unsafe-return": "off",
            // Fakes of async interfaces (Automation API, Proxmox API, runners) answer at once; `async` keeps their signatures.
            "@typescript-eslint/require-await": "off",
        },
    },
);
