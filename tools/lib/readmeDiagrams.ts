/**
 * The README's generated diagrams: each sits between `<!-- diagram:NAME -->` and
 * `<!-- /diagram:NAME -->`, where NAME is a stack or `all`; `npm run diagrams` fills them
 * from `npm run plan -- --stack NAME --format mermaid`, and a test fails when they are stale.
 */
const BLOCK = /(<!-- diagram:([A-Za-z0-9_-]+) -->\n)[\s\S]*?(<!-- \/diagram:\2 -->)/g;

/** The diagram names the text has markers for, in order. */
export function diagramNames(text: string): string[] {
    return [...text.matchAll(BLOCK)].map((m) => m[2]);
}

/** The text with every marked block replaced by its diagram in a mermaid code fence. */
export function fillDiagrams(text: string, diagrams: ReadonlyMap<string, string>): string {
    return text.replace(BLOCK, (whole, open: string, name: string, close: string) => {
        const diagram = diagrams.get(name);
        return diagram === undefined ? whole : `${open}\`\`\`mermaid\n${diagram.trimEnd()}\n\`\`\`\n${close}`;
    });
}
