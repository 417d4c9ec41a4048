/**
 * No library wording reaches the user: walk every field of both stack schemas (the
 * environments' and the host's), feed it
 * values of the wrong kind and out of range, and fail on any message that falls back to
 * zod's default text ("Invalid input", "Too small", "Invalid option", "... received ...").
 */
import { z } from "zod";
import { describe as describeValue, escapeNonAscii, projectMessage } from "../config/messages";
import { hostStackSchema } from "../config/hostSchema";
import { stackConfigSchema } from "../config/schema";

/** The parts of zod's internal definition the walk reads (zod 4 `_zod.def`). */
interface Def {
    readonly type: string;
    readonly shape?: Record<string, z.ZodType>;
    readonly element?: z.ZodType;
    readonly innerType?: z.ZodType;
    readonly in?: z.ZodType;
    readonly out?: z.ZodType;
    readonly options?: readonly z.ZodType[];
}

const defOf = (schema: z.ZodType): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;

interface Field {
    readonly path: string;
    readonly schema: z.ZodType;
}

/** Every schema node reachable from the root, with its config key path. */
function fields(schema: z.ZodType, path = ""): Field[] {
    const def = defOf(schema);
    const here: Field[] = [{ path, schema }];
    switch (def.type) {
        case "object":
            return here.concat(Object.entries(def.shape ?? {}).flatMap(([k, s]) => fields(s, path === "" ? k : `${path}.${k}`)));
        case "array":
            return def.element ? here.concat(fields(def.element, `${path}[]`)) : here;
        case "optional":
        case "default":
        case "prefault":
        case "nullable":
        case "readonly":
            return def.innerType ? fields(def.innerType, path) : here;
        case "pipe":
            return [...(def.in ? fields(def.in, path) : []), ...(def.out ? fields(def.out, path) : [])];
        case "union":
            return here.concat((def.options ?? []).flatMap((o) => fields(o, path)));
        default:
            return here;
    }
}

/** Values no field accepts in all its forms: wrong kinds, empties, extremes, look-alikes. */
const BAD_VALUES: readonly unknown[] = [
    42, -1e15, 1e15, 0.5, Number.POSITIVE_INFINITY, Number.NaN, ".inf", "yes", "", "x", "priv\u0430te",
    true, null, [], [42], {}, { unexpected: 1 },
];

const ZOD_DEFAULT_TEXT = /^(Invalid|Too (small|big)|Unrecognized key)|received|Expected (string|number|object|array)/;

const SCHEMAS = [["environment", stackConfigSchema], ["host", hostStackSchema]] as const;
const environmentFields = fields(stackConfigSchema);
const hostFields = fields(hostStackSchema);
const allFields = [...environmentFields.map((f) => ({ ...f, path: `environment: ${f.path}` })), ...hostFields.map((f) => ({ ...f, path: `host: ${f.path}` }))];

describe("every field's errors are in the project's own words", () => {
    test("the walk reaches the whole of both schemas", () => {
        // A broken walk would pass vacuously: it must find the leaves of every section.
        const envPaths = new Set(environmentFields.map((f) => f.path));
        for (const p of ["environment", "proxmox.endpoint", "hostStack", "gpu.otherNodes[].pciAddress", "aiVm.sshPublicKeys[]", "containers[].dataMountPath", "models[].sizeGiB", "apps[].port", "workbench.port"]) {
            expect(envPaths).toContain(p);
        }
        expect(environmentFields.length).toBeGreaterThan(80);
        const hostPaths = new Set(hostFields.map((f) => f.path));
        for (const p of ["environment", "proxmox.endpoint", "hosts[].memoryGiB", "hosts[].sshHostKey", "environments.private", "images.ubuntuCloud.checksum", "firewall.adminSources[]", "backup.keepDaily", "memory.zfsArcReserveGiB"]) {
            expect(hostPaths).toContain(p);
        }
        expect(hostFields.length).toBeGreaterThan(30);
    });

    test.each(allFields.filter((f) => !f.path.endsWith(": ")).map((f) => [f.path, f] as const))("%s", (_path, field) => {
        for (const value of BAD_VALUES) {
            const result = field.schema.safeParse(value);
            if (result.success) {
                continue;
            }
            for (const issue of result.error.issues) {
                expect({ value: describeValue(value), message: issue.message }).not.toEqual(
                    expect.objectContaining({ message: expect.stringMatching(ZOD_DEFAULT_TEXT) }),
                );
                expect(issue.message.length).toBeGreaterThan(0);
            }
        }
    });

    test.each(SCHEMAS)("a missing required value always reads the same (%s file)", (_file, schema) => {
        const result = schema.safeParse({});
        expect(result.success).toBe(false);
        const messages = new Set(result.success ? [] : result.error.issues.map((i) => i.message));
        expect([...messages]).toEqual(["is required"]);
    });
});

describe("what a value is, in words", () => {
    test.each([
        [Number.POSITIVE_INFINITY, ".inf, which is not a finite number"],
        [Number.NaN, ".nan, which is not a finite number"],
        ["-.inf", "-.inf, which is not a finite number"],
        [null, "an empty value (null)"],
        [[1, 2], "a list of 2 items"],
        [{ a: 1 }, "a mapping"],
        ["priv\u0430te", `"priv\\u0430te"`],
    ])("%p", (value, expected) => {
        expect(describeValue(value)).toBe(expected);
    });

    test("a look-alike character is visibly different", () => {
        expect(escapeNonAscii("priv\u0430te")).not.toBe("private");
        expect(escapeNonAscii("private")).toBe("private");
    });

    test("yes/no for a boolean says why", () => {
        expect(projectMessage({ code: "invalid_type", expected: "boolean", input: "yes", path: [] }))
            .toBe(`expected true or false, got "yes" (YAML 1.2 reads yes/no/on/off as text: write true or false)`);
    });

    test("the error map is the one zod uses", () => {
        expect(z.boolean().safeParse("no").error?.issues[0].message).toMatch(/^expected true or false, got "no"/);
        expect(z.array(z.string()).min(1).safeParse([]).error?.issues[0].message).toBe("needs at least one item, got an empty list");
        expect(z.enum(["lz4", "zstd"]).safeParse("gzip").error?.issues[0].message).toBe(`expected one of lz4, zstd, got "gzip"`);
    });
});
