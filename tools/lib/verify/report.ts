/**
 * What `npm run verify` found: one row per check, a table or JSON, and the exit code.
 *
 * Exit codes: 0 every check passed; 2 a check failed or a benchmark missed its target;
 * 1 a check could not run (no route to the environment, a probe guest that refused SSH).
 */
export type CheckStatus = "pass" | "fail" | "error" | "skip";

export type CheckGroup = "services" | "ollama" | "benchmark" | "vector store" | "databases" | "isolation";

export interface Check {
    readonly group: CheckGroup;
    /** what was checked, e.g. the model or the workload */
    readonly name: string;
    readonly status: CheckStatus;
    /** one line: the figures or what went wrong (never a secret) */
    readonly detail: string;
    /** measured numbers, for --json readers */
    readonly figures?: Readonly<Record<string, number | null>>;
}

export interface VerifyReport {
    readonly stack: string;
    readonly checks: readonly Check[];
    readonly summary: Readonly<Record<CheckStatus, number>>;
    /** set when nothing in the environment answered: the checks could not run */
    readonly noRoute?: string;
}

export function buildReport(stack: string, checks: readonly Check[], noRoute?: string): VerifyReport {
    const summary: Record<CheckStatus, number> = { pass: 0, fail: 0, error: 0, skip: 0 };
    checks.forEach((c) => { summary[c.status] += 1; });
    return { stack, checks, summary, ...(noRoute !== undefined ? { noRoute } : {}) };
}

export function verifyExitCode(report: VerifyReport): 0 | 1 | 2 {
    if (report.noRoute !== undefined || report.summary.error > 0) {
        return 1;
    }
    return report.summary.fail > 0 ? 2 : 0;
}

const MARK: Record<CheckStatus, string> = { pass: "ok", fail: "FAIL", error: "ERROR", skip: "skip" };

/** The human report: an aligned table, then one verdict line. */
export function renderReport(report: VerifyReport): string {
    const rows = report.checks.map((c) => [MARK[c.status], c.group, c.name, c.detail]);
    const header = ["", "check", "target", "result"];
    const widths = [0, 1, 2].map((i) => Math.max(header[i].length, ...rows.map((r) => r[i].length)));
    const line = (r: string[]) => `${r.slice(0, 3).map((cell, i) => cell.padEnd(widths[i])).join("  ")}  ${r[3]}`.trimEnd();
    const s = report.summary;
    const lines = [`stack ${report.stack}: ${report.checks.length} checks`, line(header), ...rows.map(line)];
    if (report.noRoute !== undefined) {
        lines.push(`COULD NOT RUN: ${report.noRoute}`);
    } else if (s.error > 0) {
        lines.push(`COULD NOT RUN ${s.error} check(s); ${s.fail} failed, ${s.pass} passed, ${s.skip} skipped`);
    } else if (s.fail > 0) {
        lines.push(`FAILED: ${s.fail} check(s) failed, ${s.pass} passed, ${s.skip} skipped`);
    } else {
        lines.push(`all ${s.pass} checks passed${s.skip > 0 ? `, ${s.skip} skipped` : ""}`);
    }
    return `${lines.join("\n")}\n`;
}
