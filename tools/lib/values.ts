/**
 * Small facts about plain values shared by the tools and the policy rules: how values
 * that must not be revealed are shown, and what counts as a plain object.
 */
export const SECRET_MASK = "[secret]";
export const UNKNOWN_MASK = "[unknown]";

export function isRecord(value: unknown): value is Record<string, unknown> {
    return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** A plan value in a message: a scalar as it is, anything else as JSON (never "[object Object]"). */
export function text(value: unknown): string {
    if (value === null || typeof value !== "object") return String(value);
    return JSON.stringify(value);
}
