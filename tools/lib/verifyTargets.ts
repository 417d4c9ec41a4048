/**
 * The stack outputs `npm run verify` reads, in one typed place.
 *
 * An environment stack exports these next to its other outputs (the README's "Is it
 * working?" section lists them). Everything else verify needs (addresses, ports, models and
 * their targets, admin sources) comes from the stack's validated config, so each fact is
 * still written once.
 *
 * | output          | shape                                                              |
 * |-----------------|--------------------------------------------------------------------|
 * | `ollama`        | `{ url }`: the Ollama API, e.g. http://10.10.10.10:11434           |
 * | `vectorStore`   | `{ kind: "qdrant" \| "chroma", url, apiKey? }` (apiKey: Qdrant, secret) |
 * | `workloads`     | `[{ name, url, healthPath }]`: every workload with a health check  |
 * | `postgres`      | `[{ app, connectionString }]` (secret): one per app with a database (optional) |
 * | `redis`         | `[{ app, connectionString }]` (secret): one per app using Redis (optional) |
 * | `sshHostKeys`   | `{ <guest name>: "ssh-ed25519 AAAA..." }`: each guest's pinned host key |
 */
import { z } from "zod";
import type { EnvironmentOutputs } from "../../components/outputs";
import { formatPath } from "../../config/messages";

const got = (input: unknown): string => (input === undefined ? "it is missing" : `got ${JSON.stringify(input)}`);

const url = z.string({ error: (iss) => `expected an http(s) URL, ${got(iss.input)}` })
    .regex(/^https?:\/\/[^\s/]+(\/[^\s]*)?$/, { error: (iss) => `expected an http(s) URL, ${got(iss.input)}` });
const name = z.string({ error: (iss) => `expected a name, ${got(iss.input)}` }).min(1, { error: "expected a name, got \"\"" });
const secretText = (what: string, re: RegExp) => z.string({ error: (iss) => `expected ${what}, ${iss.input === undefined ? "it is missing" : "got something else (value not shown)"}` })
    .regex(re, { error: `expected ${what} (value not shown)` });
const hostKey = z.string({ error: (iss) => `expected an SSH host public key, ${got(iss.input)}` })
    .regex(/^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/=]+$/, { error: (iss) => `expected an SSH host public key like "ssh-ed25519 AAAA...", ${got(iss.input)}` });

const connection = (scheme: RegExp, what: string) => z.strictObject({
    /** the app whose credentials these are */
    app: name,
    connectionString: secretText(what, scheme),
});

export const verifyTargetsSchema = z.object({
    ollama: z.object({ url }, { error: (iss) => `expected { url }, ${got(iss.input)}` }),
    vectorStore: z.discriminatedUnion("kind", [
        z.object({ kind: z.literal("qdrant"), url, apiKey: secretText("Qdrant's API key", /^\S+$/).optional() }),
        // Chroma 1.x has no auth of its own: the environment's network is its fence.
        z.object({ kind: z.literal("chroma"), url }),
    ], { error: (iss) => `expected { kind: "qdrant" | "chroma", url, apiKey? }, ${got(iss.input)}` }),
    workloads: z.array(z.object({
        name,
        url,
        healthPath: z.string({ error: (iss) => `expected a path like /health, ${got(iss.input)}` })
            .regex(/^\/\S*$/, { error: (iss) => `expected a path like /health, ${got(iss.input)}` }),
    }), { error: (iss) => `expected a list of { name, url, healthPath }, ${got(iss.input)}` }),
    postgres: z.array(connection(/^postgres(ql)?:\/\/\S+$/, "a postgresql:// connection string")).default([]),
    redis: z.array(connection(/^rediss?:\/\/\S+$/, "a redis:// connection string")).default([]),
    sshHostKeys: z.record(z.string(), hostKey, { error: (iss) => `expected { <guest name>: "<host key>" }, ${got(iss.input)}` }),
});

export type VerifyTargets = z.output<typeof verifyTargetsSchema>;
/**
 * The output keys verify reads (the docs test holds the README to them). Typed as keys of
 * what an environment stack's program returns: a key verify reads that the program does not
 * export fails the type check.
 */
export const VERIFY_OUTPUT_KEYS: readonly (keyof EnvironmentOutputs)[] = Object.keys(verifyTargetsSchema.shape) as (keyof VerifyTargets)[];

/** The outputs are not what verify needs: one line per problem, each naming the output. */
export class TargetsError extends Error {
    constructor(public readonly problems: readonly string[]) {
        super(problems.join("\n"));
        this.name = "TargetsError";
    }
}

/**
 * Reads verify's targets out of a stack's outputs (plain values, secrets already
 * revealed by the Automation API). Throws TargetsError naming each missing or odd output.
 */
export function parseVerifyTargets(stack: string, outputs: Record<string, unknown>): VerifyTargets {
    if (Object.keys(outputs).length === 0) {
        throw new TargetsError([`stack ${stack} has no outputs: it has not been deployed yet (run \`pulumi up --stack ${stack}\` first)`]);
    }
    const result = verifyTargetsSchema.safeParse(outputs);
    if (result.success) {
        return result.data;
    }
    const problems = result.error.issues.map((issue) => {
        const where = formatPath(issue.path);
        if (issue.path.length === 1 && outputs[String(issue.path[0])] === undefined) {
            return `stack output ${where} is missing: this deployment does not export what verify reads (see the README, "Is it working?")`;
        }
        return `stack output ${where}: ${issue.message}`;
    });
    throw new TargetsError([...new Set(problems)]);
}
