/** The RAG workbench's build context: the files whose content decides the image tag. */
import * as fs from "fs";
import * as path from "path";

const DIR = path.join(__dirname, "workbench");

/** Every file of the build context, path and content, in a stable order. */
export function workbenchFiles(): string[] {
    const out: string[] = [];
    const walk = (dir: string) => {
        for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
            const full = path.join(dir, entry.name);
            if (entry.isDirectory()) {
                walk(full);
            } else {
                out.push(path.relative(DIR, full), fs.readFileSync(full, "utf8"));
            }
        }
    };
    walk(DIR);
    return out;
}
