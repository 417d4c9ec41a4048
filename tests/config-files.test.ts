/**
 * Problems with a stack file itself, or with where its keys live, give one line that
 * names the file (with line and column) or the key, in the project's words.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ConfigError } from "../config/load";
import { evaluateStack } from "../tools/lib/evaluate";
import { configSectionOf, fromConfigSection, readConfigSection } from "../tools/lib/stackFile";
import { ConfigSection, evaluate, key, stackFile } from "./helpers";

function problemsOf(work: () => unknown): readonly string[] {
    try {
        work();
    } catch (err) {
        if (err instanceof ConfigError) {
            return err.problems;
        }
        throw err;
    }
    throw new Error("expected a ConfigError");
}

async function evaluationProblems(stack: string, change: (c: ConfigSection) => void): Promise<readonly string[]> {
    const error = await evaluate(stack, change).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
}

describe("the stack file itself", () => {
    test.each([
        ["a flow list left open", "config:\n  ai-dualstack:models: [1\n", "Pulumi.x.yaml:3:1: YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]"],
        ["a key given twice", "config:\n  ai-dualstack:gpu: {}\n  ai-dualstack:gpu: {}\n", "Pulumi.x.yaml:3:3: YAML syntax error: Map keys must be unique"],
        ["a tab for indentation", "config:\n\tai-dualstack:gpu: {}\n", "Pulumi.x.yaml:2:1: YAML syntax error: Tabs are not allowed as indentation"],
        ["an empty file", "", "Pulumi.x.yaml: is empty; expected a mapping with a config: section of ai-dualstack:<key> entries"],
        ["only a comment", "# nothing yet\n", "Pulumi.x.yaml: is empty; expected a mapping with a config: section of ai-dualstack:<key> entries"],
        ["a list at the top", "- config\n", "Pulumi.x.yaml: expected a mapping with a config: section of ai-dualstack:<key> entries, got a list of 1 item"],
        ["no config section", "secretsprovider: passphrase\n", "Pulumi.x.yaml: has no config: section; expected a mapping with a config: section of ai-dualstack:<key> entries (top-level keys here: secretsprovider)"],
        ["config that is not a mapping", "config: private\n", `Pulumi.x.yaml: config: expected a mapping of ai-dualstack:<key> entries, got "private"`],
    ])("%s", (_title, text, expected) => {
        expect(problemsOf(() => configSectionOf(text, "Pulumi.x.yaml"))).toEqual([expected]);
    });

    test("a file that cannot be read is named", () => {
        const missing = path.join(os.tmpdir(), "no-such-dir", "Pulumi.none.yaml");
        expect(problemsOf(() => readConfigSection(missing))).toEqual([`${missing}: cannot be read`]);
    });

    test("a real file's syntax error is reported with its path relative to where the tool runs", () => {
        const dir = fs.mkdtempSync(path.join(process.cwd(), ".tmp-config-"));
        try {
            const file = path.join(dir, "Pulumi.broken.yaml");
            fs.writeFileSync(file, "config:\n  ai-dualstack:environment: private\n  ai-dualstack:gpu: [\n");
            const [line] = problemsOf(() => readConfigSection(file));
            expect(line).toMatch(new RegExp(`^${path.relative(process.cwd(), file).replace(/\./g, "\\.")}:4:1: YAML syntax error: `));
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});

describe("keys outside the project's namespace", () => {
    test("a provider key does nothing here and says so", async () => {
        expect(await evaluationProblems("private", (c) => { c["proxmoxve:endpoint"] = "https://10.0.0.1:8006/"; })).toEqual([
            "proxmoxve:endpoint: not read by this program: its settings are ai-dualstack:<key> entries (every provider is configured from them explicitly)",
        ]);
    });

    test("a typo in the namespace suggests the right key", async () => {
        expect(await evaluationProblems("public", (c) => { c["ai-dualstak:backup"] = {}; })).toEqual([
            `ai-dualstak:backup: namespace "ai-dualstak" is not "ai-dualstack"; did you mean ai-dualstack:backup?`,
        ]);
    });

    test("a look-alike character is shown escaped", async () => {
        expect(await evaluationProblems("public", (c) => { c["ai-du\u0430lstack:backup"] = {}; })).toEqual([
            `ai-du\\u0430lstack:backup: namespace "ai-du\\u0430lstack" is not "ai-dualstack"; did you mean ai-dualstack:backup?`,
        ]);
    });

    test("a look-alike in a value is visibly different from the real word", async () => {
        expect(await evaluationProblems("private", (c) => { c["ai-dualstack:environment"] = "priv\u0430te"; })).toEqual([
            `ai-dualstack:environment: expected private or public, got "priv\\u0430te"`,
        ]);
    });

    test("engine keys pass", async () => {
        await expect(evaluate("private", (c) => { c["pulumi:disable-default-providers"] = ["*"]; })).resolves.toBeDefined();
    });
});

describe("values YAML reads differently than a person might expect", () => {
    test("a non-finite number is reported as what it is", async () => {
        expect(await evaluationProblems("private", (c) => { key(c, "aiVm").memoryGiB = Number.POSITIVE_INFINITY; })).toEqual([
            "ai-dualstack:aiVm.memoryGiB: expected a whole number, got .inf, which is not a finite number",
        ]);
    });

    test("yes for a boolean says to write true", async () => {
        expect(await evaluationProblems("private", (c) => { key(c, "workloads").flashAttention = "yes"; })).toEqual([
            `ai-dualstack:workloads.flashAttention: expected true or false, got "yes" (YAML 1.2 reads yes/no/on/off as text: write true or false)`,
        ]);
    });

    test("the YAML text .inf survives the trip through the config strings", () => {
        const file = fromConfigSection({ "ai-dualstack:aiVm": { memoryGiB: Number.NaN }, "ai-dualstack:x": Number.NEGATIVE_INFINITY });
        expect(file.config["ai-dualstack:aiVm"]).toBe(`{"memoryGiB":".nan"}`);
        expect(file.config["ai-dualstack:x"]).toBe("-.inf");
    });
});

describe("a stack builds the environment it is named after", () => {
    test("the public file evaluated as the private stack is refused", async () => {
        const error = await evaluateStack({ stack: "private", file: stackFile("public") }).then(() => undefined, (e: unknown) => e);
        expect((error as ConfigError).problems).toEqual([
            `ai-dualstack:environment: is "public", but this is the stack "private"; a stack builds the environment it is named after (Pulumi.public.yaml is the public stack's file)`,
        ]);
    });

    test("a suffixed copy of an environment is accepted", async () => {
        await expect(evaluateStack({ stack: "private-staging", file: stackFile("private") })).resolves.toBeDefined();
    });
});

describe("the offline plan refuses what the engine would", () => {
    test("two resources with one URN are refused", async () => {
        const { duplicateUrns, DuplicateUrnError } = await import("../tools/lib/evaluate");
        const urn = "urn:pulumi:private::ai-dualstack::ai-dualstack:env:Environment$ai-dualstack:ops:GuestFirewall::private-ai-firewall";
        expect(duplicateUrns(["b", urn, "a", urn])).toEqual([urn]);
        expect(new DuplicateUrnError([urn]).message).toBe(`duplicate resource URN ${urn}: the Pulumi engine refuses a second resource with the same type and name; give the guests behind it distinct names`);
    });

    test("guest firewalls are named from their own guest, so an LXC called <env>-ai no longer collides with the AI VM's", async () => {
        const { graph } = await evaluate("private", (c) => {
            key(c, "aiVm").name = "private-gpu";
            key<Record<string, unknown>[]>(c, "containers")[0].name = "private-ai";
        });
        const firewalls = graph.resources.filter((r) => r.type === "ai-dualstack:ops:GuestFirewall").map((r) => r.name).sort();
        expect(firewalls).toContain("private-gpu-firewall");
        expect(firewalls).toContain("private-ai-firewall");
        expect(new Set(graph.resources.map((r) => r.urn)).size).toBe(graph.resources.length);
    });
});
