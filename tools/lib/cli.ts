/**
 * Shared bits of the command-line tools: argument parsing with clear errors, and
 * loading a stack's config file the same way everywhere.
 */
import * as fs from "fs";
import { parseArgs } from "util";
import { ConfigError } from "../../config/load";
import { PreflightError } from "../../program";
import { readStackFile, stackFilePath, StackConfigFile, PROJECT_DIR } from "./stackFile";

export class UsageError extends Error {}

type FlagSpec = Record<string, { type: "string" | "boolean" }>;

/** The values of the flags in a spec: strings for string flags, booleans for the rest. */
export type FlagValues<T extends FlagSpec> = { [K in keyof T]?: T[K]["type"] extends "string" ? string : boolean } & { help?: boolean };

export function parseFlags<T extends FlagSpec>(argv: string[], flags: T, usage: string): FlagValues<T> {
    try {
        return parseArgs({ args: argv, options: { ...flags, help: { type: "boolean" } }, strict: true, allowPositionals: false }).values as FlagValues<T>;
    } catch (err) {
        throw new UsageError(`${err instanceof Error ? err.message : String(err)}\n${usage}`);
    }
}

export interface ToolIO {
    out(text: string): void;
    err(text: string): void;
}

/**
 * Flags of a tool that works on one stack: parsed, `--help` answered, `--stack` required.
 * Returns the exit code instead when the tool should stop here.
 */
export function stackToolArgs<T extends FlagSpec>(argv: string[], spec: T, usage: string, io: ToolIO): { flags: FlagValues<T>; stack: string } | number {
    let flags: FlagValues<T>;
    try {
        flags = parseFlags(argv, spec, usage);
    } catch (err) {
        io.err(`${(err as Error).message}\n`);
        return 1;
    }
    if (flags.help) {
        io.out(`${usage}\n`);
        return 0;
    }
    const stack = flags.stack;
    if (typeof stack !== "string" || stack === "") {
        io.err(`--stack is required\n${usage}\n`);
        return 1;
    }
    return { flags, stack };
}

/** Stacks that have a settings file in the project. */
export function knownStacks(): string[] {
    return fs.readdirSync(PROJECT_DIR)
        .map((f) => /^Pulumi\.([^.]+)\.yaml$/.exec(f)?.[1])
        .filter((s): s is string => s !== undefined)
        .sort();
}

export function loadStackFile(stack: string | undefined, configFile: string | undefined, usage: string): { stack: string; file: StackConfigFile } {
    if (stack === undefined || stack === "") {
        throw new UsageError(`--stack is required (stacks here: ${knownStacks().join(", ")})\n${usage}`);
    }
    const path = configFile ?? stackFilePath(stack);
    if (!fs.existsSync(path)) {
        throw new UsageError(configFile
            ? `config file ${configFile} does not exist`
            : `no stack config ${path} (stacks here: ${knownStacks().join(", ")}); pass --config FILE for another file`);
    }
    return { stack, file: readStackFile(path) };
}

/** Runs a tool's main, mapping known errors to one clear message and exit code 1. */
export function runMain(main: () => Promise<number>): void {
    main().then((code) => {
        process.exitCode = code;
    }, (err: unknown) => {
        if (err instanceof ConfigError) {
            process.stderr.write(`${err.problems.join("\n")}\n`);
        } else if (err instanceof PreflightError) {
            process.stderr.write(`${err.message}\n`);
        } else if (err instanceof UsageError) {
            process.stderr.write(`${err.message}\n`);
        } else {
            process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
        }
        process.exitCode = 1;
    });
}
