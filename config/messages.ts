/**
 * The project's own wording for config problems. Every message says what was expected and
 * what was found; no library default text ("Invalid input", "Too small", ...) reaches the
 * user. Field schemas may give a sharper message of their own; everything else falls back
 * to `projectErrorMap`, installed once as zod's global error map when this module loads.
 */
import { z } from "zod";

/** The one phrasing for a value that is not there. */
export const MISSING = "is required";

/** YAML 1.1 booleans that YAML 1.2 (what Pulumi and this project read) keeps as text. */
const YAML11_BOOLEANS = /^(yes|no|on|off|y|n)$/i;
/** How YAML writes non-finite numbers; the stack reader keeps them as this text. */
const NON_FINITE = /^[-+]?\.(inf|nan)$/i;

/** A string as the user would type it, with look-alike characters made visible (`priv\u0430te`). */
export function quote(text: string): string {
    return `"${escapeNonAscii(text)}"`;
}

export function escapeNonAscii(text: string): string {
    return text.replace(/[^\x20-\x7e]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** `got ...`: what the user gave, in words. */
export function got(input: unknown): string {
    return `got ${describe(input)}`;
}

export function describe(input: unknown): string {
    if (input === undefined) {
        return "nothing";
    }
    if (input === null) {
        return "an empty value (null)";
    }
    if (typeof input === "number") {
        return Number.isFinite(input) ? String(input) : `${nonFiniteText(input)}, which is not a finite number`;
    }
    if (typeof input === "string") {
        return NON_FINITE.test(input) ? `${input}, which is not a finite number` : quote(input);
    }
    if (Array.isArray(input)) {
        return `a list of ${input.length} item${input.length === 1 ? "" : "s"}`;
    }
    if (typeof input === "object") {
        return "a mapping";
    }
    if (typeof input === "boolean" || typeof input === "bigint") {
        return String(input);
    }
    // a symbol or a function: only code can pass one, a stack file cannot
    return typeof input;
}

function nonFiniteText(n: number): string {
    if (Number.isNaN(n)) {
        return ".nan";
    }
    return n > 0 ? ".inf" : "-.inf";
}

const KINDS: Record<string, string> = {
    string: "text",
    number: "a number",
    int: "a whole number",
    boolean: "true or false",
    array: "a list",
    object: "a mapping",
    record: "a mapping",
    tuple: "a list",
};

type Issue = z.core.$ZodRawIssue;

/** The message for one issue, in the project's words. */
export function projectMessage(issue: Issue): string {
    const input = issue.input;
    switch (issue.code) {
        case "invalid_type": {
            if (input === undefined) {
                return MISSING;
            }
            const expected = KINDS[issue.expected] ?? String(issue.expected);
            if (issue.expected === "boolean" && typeof input === "string" && YAML11_BOOLEANS.test(input)) {
                return `expected true or false, ${got(input)} (YAML 1.2 reads yes/no/on/off as text: write true or false)`;
            }
            return `expected ${expected}, ${got(input)}`;
        }
        case "too_small":
            return sizeMessage("at least", issue.minimum, issue.inclusive !== false, issue.origin, input);
        case "too_big":
            return sizeMessage("at most", issue.maximum, issue.inclusive !== false, issue.origin, input);
        case "invalid_value":
            return issue.values.length === 1
                ? `expected ${JSON.stringify(issue.values[0])}, ${got(input)}`
                : `expected one of ${issue.values.map((v) => String(v)).join(", ")}, ${got(input)}`;
        case "invalid_format":
            return `expected ${issue.format === "regex" ? "text of the documented form" : issue.format}, ${got(input)}`;
        case "unrecognized_keys":
            return `unknown key${issue.keys.length === 1 ? "" : "s"} ${issue.keys.map(quote).join(", ")}`;
        case "not_multiple_of":
            return `expected a multiple of ${issue.divisor}, ${got(input)}`;
        case "invalid_union":
            return `matches none of the accepted forms, ${got(input)}`;
        default:
            return `is not accepted here, ${got(input)}`;
    }
}

function sizeMessage(bound: "at least" | "at most", limit: number | bigint, inclusive: boolean, origin: string, input: unknown): string {
    const n = Number(limit);
    if (origin === "array" || origin === "set") {
        const count = Array.isArray(input) ? input.length : undefined;
        if (bound === "at least" && n === 1) {
            return `needs at least one item${count === undefined ? "" : `, got an empty list`}`;
        }
        return `needs ${bound} ${n} item${n === 1 ? "" : "s"}${count === undefined ? "" : `, got ${count}`}`;
    }
    if (origin === "string") {
        if (bound === "at least" && n === 1) {
            return `must not be empty`;
        }
        return `must be ${bound} ${n} characters long, ${got(input)}`;
    }
    const relation = inclusive ? bound : bound === "at least" ? "greater than" : "less than";
    return `must be ${relation} ${n}, ${got(input)}`;
}

/** zod's error map hook: only used where a schema gives no message of its own. */
const projectErrorMap: z.core.$ZodErrorMap = (issue) => projectMessage(issue);

z.config({ customError: projectErrorMap });

/** `["gpu","otherNodes",0,"node"]` -> `gpu.otherNodes[0].node` */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
    return path.reduce<string>((acc, part) => {
        if (typeof part === "number") {
            return `${acc}[${part}]`;
        }
        return acc === "" ? String(part) : `${acc}.${String(part)}`;
    }, "");
}
