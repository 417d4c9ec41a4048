/**
 * Shared bits of the command-line tools: argument parsing with clear errors, and
 * loading a stack's config file the same way everywhere.
 *
 * Nothing here loads the Pulumi SDK or the program until a tool needs them: `--help`, a
 * bad flag or an unknown stack are answered in the time Node takes to start.
 */
import * as fs from "fs";
import { parseArgs } from "util";
import { knownStacks, stackFilePath } from "./paths";
import type { StackConfigFile } from "./stackFile";

export { knownStacks } from "./paths";

export class UsageError extends Error {}

type FlagSpec = Record<string, { type: "string" | "boolean" }>;

/** The values of the flags in a spec: strings for string flags, booleans for the rest. */
export type FlagValues<T extends FlagSpec> = { [K in keyof T]?: T[K]["type"] extends "string" ? string : boolean } & { help?: boolean };

export function parseFlags<T extends FlagSpec>(argv: string[], flags: T, usage: string): FlagValues<T> {
    try {
        return parseArgs({ args: argv, options: { ...flags, help: { type: "boolean" } }, strict: true, allowPositionals: false }).values;
    } catch (err) {
        throw new UsageError(`${err instanceof Error ? err.message : String(err)}\n${usage}`);
    }
}

export interface ToolIO {
    out(text: string): void;
    err(text: string): void;
}

/** Process streams, for the tools' main functions. */
export const PROCESS_IO: ToolIO = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };

/**
 * A tool's flags: parsed (a bad flag prints usage) and `--help` answered.
 * Returns the exit code instead when the tool should stop here.
 */
export function toolArgs<T extends FlagSpec>(argv: string[], spec: T, usage: string, io: ToolIO): FlagValues<T> | number {
    try {
        const flags = parseFlags(argv, spec, usage);
        if (flags.help) {
            io.out(`${usage}\n`);
            return 0;
        }
        return flags;
    } catch (err) {
        io.err(`${(err as Error).message}\n`);
        return 1;
    }
}

/** A tool's flags when it works on one stack: as toolArgs, and `--stack` required. */
export function stackToolArgs<T extends FlagSpec>(argv: string[], spec: T, usage: string, io: ToolIO): { flags: FlagValues<T>; stack: string } | number {
    const flags = toolArgs(argv, spec, usage, io);
    if (typeof flags === "number") {
        return flags;
    }
    const stack = flags.stack;
    if (typeof stack !== "string" || stack === "") {
        io.err(`--stack is required (stacks here: ${knownStacks().join(", ")})\n${usage}\n`);
        return 1;
    }
    return { flags, stack };
}

/** The stack's settings file (or `configFile`), read; a missing file is a UsageError. */
export async function loadStackFile(stack: string, configFile: string | undefined): Promise<StackConfigFile> {
    const path = configFile ?? stackFilePath(stack);
    if (!fs.existsSync(path)) {
        throw new UsageError(configFile
            ? `config file ${configFile} does not exist`
            : `no stack config ${path} (stacks here: ${knownStacks().join(", ")}); pass --config FILE for another file`);
    }
    const { readStackFile } = await import("./stackFile");
    return readStackFile(path);
}

/**
 * What a tool prints for an error: the problems for bad config or a failed GPU preflight
 * (no "error:", no stack trace), the message for a usage error. The program's error
 * classes are loaded only here: an error of theirs means they are loaded already.
 */
async function describeError(err: unknown): Promise<string> {
    if (err instanceof UsageError) {
        return err.message;
    }
    const [{ ConfigError }, { PreflightError }] = await Promise.all([import("../../config/load"), import("../../program")]);
    if (err instanceof ConfigError) {
        return err.problems.join("\n");
    }
    if (err instanceof PreflightError) {
        return err.message;
    }
    return `error: ${err instanceof Error ? err.message : String(err)}`;
}

/** Runs a tool's main in-process: its exit code, known errors mapped to one clear message on `io.err` and 1. */
export async function runTool(main: () => Promise<number>, io: ToolIO): Promise<number> {
    try {
        return await main();
    } catch (err) {
        io.err(`${await describeError(err)}\n`);
        return 1;
    }
}

/** Runs a tool's main as the process: its exit code becomes the process's. */
export function runMain(main: () => Promise<number>): void {
    // runTool settles with an exit code and never rejects: nothing is left to handle.
    void runTool(main, PROCESS_IO).then((code) => {
        process.exitCode = code;
    });
}
