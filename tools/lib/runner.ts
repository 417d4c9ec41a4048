/**
 * How the tools run other programs (ssh today): one small interface, so a tool's logic is
 * tested with a fake runner and only `processRunner` touches real processes.
 */
import { spawn } from "child_process";

export interface CommandResult {
    /** the exit code; 124 when the runner's own timeout stopped it (as coreutils `timeout` says) */
    readonly code: number;
    readonly stdout: string;
    readonly stderr: string;
}

export interface RunOptions {
    /** written to the program's standard input, which is then closed */
    readonly input?: string;
    /** stop the program after this long (default: 60 s) */
    readonly timeoutMs?: number;
}

export interface CommandRunner {
    run(command: string, args: readonly string[], options?: RunOptions): Promise<CommandResult>;
}

const TIMED_OUT = 124;

/** Runs programs for real, without a shell: arguments are passed as they are. */
export const processRunner: CommandRunner = {
    run(command, args, options = {}) {
        return new Promise((resolve) => {
            const child = spawn(command, [...args], { stdio: ["pipe", "pipe", "pipe"] });
            const out: Buffer[] = [];
            const err: Buffer[] = [];
            let timedOut = false;
            const timer = setTimeout(() => {
                timedOut = true;
                child.kill("SIGTERM");
            }, options.timeoutMs ?? 60_000);
            child.stdout.on("data", (b: Buffer) => out.push(b));
            child.stderr.on("data", (b: Buffer) => err.push(b));
            // A program that does not read its input must not crash the tool with EPIPE.
            child.stdin.on("error", () => undefined);
            child.on("error", (e) => {
                clearTimeout(timer);
                resolve({ code: 127, stdout: "", stderr: `${command}: ${e.message}` });
            });
            child.on("close", (code) => {
                clearTimeout(timer);
                resolve({
                    code: timedOut ? TIMED_OUT : code ?? 1,
                    stdout: Buffer.concat(out).toString("utf8"),
                    stderr: Buffer.concat(err).toString("utf8"),
                });
            });
            child.stdin.end(options.input ?? "");
        });
    },
};
