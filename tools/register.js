/**
 * Loads the project's TypeScript in the tools' processes (`node -r ./tools/register.js
 * tools/plan.ts`): each .ts file is transpiled in memory by swc when it is required, with
 * no type check (`npm test` runs `tsc --noEmit` for that). Files keep their paths, so
 * `__dirname` (stack files, host scripts, policy config) resolves as in the sources.
 *
 * Why not ts-node: it loads the TypeScript compiler and transpiles through it, ~1 s of every
 * run at seed scale; swc does the ~45 files in ~50 ms (measured by `npm run bench`, see the
 * README). `@swc/core` ships its compiler as per-platform optional npm packages, so it
 * installs with install scripts off (.npmrc). On a platform without one, the TypeScript
 * compiler's own `transpileModule` stands in: slower, same output semantics.
 *
 * Plain JavaScript because it must run before anything can load TypeScript.
 */
"use strict";
const fs = require("fs");

/** tsconfig.json's target and module, for a single file with no type information. */
function swcTranspiler() {
    const swc = require("@swc/core");
    return (source, filename) => swc.transformSync(source, {
        filename,
        swcrc: false,
        configFile: false,
        sourceMaps: false,
        jsc: { parser: { syntax: "typescript" }, target: "es2022" },
        module: { type: "commonjs" },
    }).code;
}

function typescriptTranspiler() {
    const ts = require("typescript");
    return (source, filename) => ts.transpileModule(source, {
        fileName: filename,
        compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS, esModuleInterop: true, isolatedModules: true },
    }).outputText;
}

let transpile;
try {
    transpile = swcTranspiler();
} catch {
    transpile = typescriptTranspiler();
}

require.extensions[".ts"] = function compileTypeScript(module, filename) {
    module._compile(transpile(fs.readFileSync(filename, "utf8"), filename), filename);
};
