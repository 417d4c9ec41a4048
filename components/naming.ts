/**
 * Type tokens and child naming, so every component names its children the same way.
 */
export const PACKAGE = "ai-dualstack";

/** `ai-dualstack:<area>:<Name>` */
export function typeToken(area: "host" | "compute" | "workloads" | "ops" | "env" | "provision", name: string): string {
    return `${PACKAGE}:${area}:${name}`;
}

/** Quotes a value for a POSIX shell command line. */
export function shellQuote(value: string): string {
    return /^[A-Za-z0-9_./:=@,+-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}
