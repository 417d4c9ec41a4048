/**
 * The small HTTP client of the verify checks: JSON in and out, a timeout on every call, and
 * a clear difference between "the server said no" (a response) and "nothing answered"
 * (NetworkError), which is how verify tells a dead service from no route at all.
 */
import { isRecord } from "../../../graph";

/** Nothing answered: refused, unreachable, reset, or timed out. */
export class NetworkError extends Error {
    constructor(public readonly target: string, reason: string) {
        super(`${target}: ${reason}`);
        this.name = "NetworkError";
    }
}

export interface HttpResponse {
    readonly status: number;
    readonly text: string;
    /** the body parsed as JSON, or undefined when it is not JSON */
    readonly json: unknown;
}

export interface HttpOptions {
    readonly body?: unknown;
    readonly headers?: Readonly<Record<string, string>>;
    readonly timeoutMs?: number;
}

/** Counts what was tried and what did not answer, across every HTTP check of a run. */
export class Reachability {
    attempted = 0;
    unreachable = 0;
    firstFailure: string | undefined;

    note(err: unknown): void {
        if (err instanceof NetworkError) {
            this.unreachable += 1;
            this.firstFailure ??= err.message;
        }
    }
}

export async function request(method: string, url: string, options: HttpOptions = {}, reach?: Reachability): Promise<HttpResponse> {
    const target = hostOf(url);
    if (reach !== undefined) {
        reach.attempted += 1;
    }
    let response: Response;
    try {
        response = await fetch(url, {
            method,
            redirect: "manual",
            headers: { accept: "application/json", ...(options.body !== undefined ? { "content-type": "application/json" } : {}), ...options.headers },
            body: options.body !== undefined ? JSON.stringify(options.body) : undefined,
            signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
        });
    } catch (err) {
        const e = new NetworkError(target, describeFetchError(err, options.timeoutMs ?? 10_000));
        reach?.note(e);
        throw e;
    }
    const text = await response.text();
    let json: unknown;
    try {
        json = text === "" ? undefined : JSON.parse(text);
    } catch {
        json = undefined;
    }
    return { status: response.status, text, json };
}

function hostOf(url: string): string {
    try {
        const u = new URL(url);
        return u.host;
    } catch {
        return url;
    }
}

/** fetch() says only "fetch failed"; the reason (ECONNREFUSED, EHOSTUNREACH...) is in its `cause`. */
function describeFetchError(err: unknown, timeoutMs: number): string {
    // Duck-typed: errors from undici may come from another realm, where instanceof fails.
    const e = isRecord(err) ? err : {};
    if (e.name === "TimeoutError" || e.name === "AbortError") {
        return `no answer within ${Math.round(timeoutMs / 1000)} s`;
    }
    const cause = isRecord(e.cause) ? e.cause : undefined;
    if (cause !== undefined && typeof cause.message === "string") {
        return typeof cause.code === "string" ? `${cause.code} (${cause.message})` : cause.message;
    }
    return typeof e.message === "string" ? e.message : String(err);
}

/** A response's error in one line: status and the start of what the server said. */
export function describeStatus(r: HttpResponse): string {
    const said = r.text.replace(/\s+/g, " ").trim().slice(0, 160);
    return `HTTP ${r.status}${said !== "" ? `: ${said}` : ""}`;
}
