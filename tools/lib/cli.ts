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

/** Stacks that have a settings file in the project. */
export function knownStacks(): string[] {
    return fs.readdirSync(PROJECT_DIR)
        .map((f) => /^Pulumi\.([^.]+)\.yaml$/.exec(f)?.[1])
        .filter((s): s is string => s !== undefined)
        .sort();
}

export function loadStackFile(stack: string, configFile: string | undefined): StackConfigFile {
    const path = configFile ?? stackFilePath(stack);
    if (!fs.existsSync(path)) {
        throw new UsageError(configFile
            ? `config file ${configFile} does not exist`
            : `no stack config ${path} (stacks here: ${knownStacks().join(", ")}); pass --config FILE for another file`);
    }
    return readStackFile(path);
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
