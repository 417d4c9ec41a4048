/**
 * Small facts about plain values shared by the tools and the policy rules: how values
 * that must not be revealed are shown, and what counts as a plain object.
 */
export const SECRET_MASK = "[secret]";
export const UNKNOWN_MASK = "[unknown]";

export function isRecord(value: unknown): value is Record<string, unknown> {
    return value !== null && typeof value === "object" && !Array.isArray(value);
}
