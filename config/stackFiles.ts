/**
 * Reads a stack settings file (`Pulumi.<stack>.yaml`) as plain config: how the host stack
 * reads both environments' files, and an environment reads the host stack's box-level
 * facts. Secrets (`secure:` values) are never read here: a sibling's facts are all plain.
 */
import * as fs from "fs";
import * as path from "path";
import { parseDocument } from "yaml";
import { describe } from "./messages";

export const NAMESPACE = "ai-dualstack";

/** The project directory: stack files named by other stack files are relative to it. */
const PROJECT_DIR = path.resolve(__dirname, "..");

function isRecord(value: unknown): value is Record<string, unknown> {
    return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** A file named in config: absolute as given, else relative to the project. */
export function resolveStackFile(file: string, dir: string = PROJECT_DIR): string {
    return path.isAbsolute(file) ? file : path.join(dir, file);
}

/** A stack file that cannot be read or parsed: one line per problem, each naming the file. */
export class StackFileError extends Error {
    constructor(public readonly problems: readonly string[], public readonly unreadable = false) {
        super(problems.join("\n"));
        this.name = "StackFileError";
    }
}

/** The file as a user would name it: relative to where they run the tool. */
function displayName(file: string): string {
    const relative = path.relative(process.cwd(), file);
    return relative === "" || relative.startsWith("..") ? file : relative;
}

/** The `config:` section of a stack settings file, as plain data; `name` is how messages name it. */
export function readConfigSection(file: string, name: string = displayName(file)): Record<string, unknown> {
    let text: string;
    try {
        text = fs.readFileSync(file, "utf8");
    } catch {
        throw new StackFileError([`${name}: cannot be read`], true);
    }
    return configSectionOf(text, name);
}

/**
 * The `config:` mapping of a stack file's text. A YAML syntax error names the line and
 * column; an empty file, a file that is not a mapping or one without `config:` says so once.
 */
export function configSectionOf(text: string, name: string): Record<string, unknown> {
    const doc = parseDocument(text, { prettyErrors: true });
    if (doc.errors.length > 0) {
        throw new StackFileError(doc.errors.map((e) => {
            const at = e.linePos?.[0];
            const where = at === undefined ? name : `${name}:${at.line}:${at.col}`;
            return `${where}: YAML syntax error: ${e.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "")}`;
        }));
    }
    const top: unknown = doc.toJS();
    const expectation = "expected a mapping with a config: section of ai-dualstack:<key> entries";
    if (top === null || top === undefined) {
        throw new StackFileError([`${name}: is empty; ${expectation}`]);
    }
    if (!isRecord(top)) {
        throw new StackFileError([`${name}: ${expectation}, got ${describe(top)}`]);
    }
    if (!("config" in top)) {
        throw new StackFileError([`${name}: has no config: section; ${expectation} (top-level keys here: ${Object.keys(top).join(", ") || "none"})`]);
    }
    if (!isRecord(top.config)) {
        throw new StackFileError([`${name}: config: expected a mapping of ai-dualstack:<key> entries, got ${describe(top.config)}`]);
    }
    return top.config;
}

/**
 * The project's own keys of a config section, namespace removed, values as data (not
 * strings), secrets left out: what the schemas validate.
 */
export function plainValues(section: Record<string, unknown>): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [rawKey, value] of Object.entries(section)) {
        const key = rawKey.includes(":") ? rawKey : `${NAMESPACE}:${rawKey}`;
        if (!key.startsWith(`${NAMESPACE}:`) || (isRecord(value) && typeof value.secure === "string")) {
            continue;
        }
        out[key.slice(NAMESPACE.length + 1)] = value;
    }
    return out;
}
