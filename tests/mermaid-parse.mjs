// Parses Mermaid diagrams with Mermaid's own parser (no browser: DOMPurify, which the
// flowchart parser uses to sanitise labels, runs on a jsdom window). Reads a JSON array of
// diagram texts on stdin, prints a JSON array of { ok, type?, error? } on stdout.
// A plain ES module run by node: mermaid ships only ES modules, which jest's CommonJS
// transform cannot load.
import { JSDOM } from "jsdom";

const { window } = new JSDOM("<!doctype html><html><body></body></html>");
globalThis.window = window;
globalThis.document = window.document;
const { default: mermaid } = await import("mermaid");

let input = "";
for await (const chunk of process.stdin) input += chunk;
const results = [];
for (const text of JSON.parse(input)) {
    try {
        const parsed = await mermaid.parse(text);
        results.push({ ok: true, type: parsed.diagramType });
    } catch (err) {
        results.push({ ok: false, error: String(err?.message ?? err).split("\n").slice(0, 3).join("\n") });
    }
}
process.stdout.write(JSON.stringify(results));
