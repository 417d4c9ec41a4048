/**
 * The quirks catalogue (components/quirks.ts) supplies the options and inputs whose reason is
 * a provider quirk; components spread `quirkOptions(...)` / `quirkInputs(...)` and never set
 * them themselves, so removing a quirk removes its workaround everywhere.
 */
import * as fs from "fs";
import * as path from "path";
import * as ts from "typescript";
import { QUIRK_TYPES, QUIRKS, quirkInputs, quirkOptions } from "../components/quirks";
import { evaluate, ofType } from "./helpers";

const COMPONENTS = path.resolve(__dirname, "..", "components");

/** Options and inputs whose reason lives in the catalogue: a component never writes them as a property. */
const FROM_CATALOGUE = new Set(["ignoreChanges", "deleteBeforeReplace", "stopOnDestroy"]);

/**
 * Properties set for a reason of the project's own, not a provider quirk (file -> property -> why).
 * Anything else a component writes from FROM_CATALOGUE fails the test.
 */
const OWN_REASONS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
    "host/box.ts": { deleteBeforeReplace: "the tune keys are one shared file: an old copy's revert must never run after the new one's apply" },
};

function tsFiles(dir: string): string[] {
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
        const full = path.join(dir, e.name);
        return e.isDirectory() ? tsFiles(full) : e.name.endsWith(".ts") ? [full] : [];
    });
}

/** `name: value` properties of object literals in a source text whose name is in `names`. */
function propertiesSet(text: string, names: ReadonlySet<string>): string[] {
    const found: string[] = [];
    const visit = (node: ts.Node) => {
        if ((ts.isPropertyAssignment(node) || ts.isShorthandPropertyAssignment(node)) && ts.isIdentifier(node.name) && names.has(node.name.text)) {
            found.push(node.name.text);
        }
        ts.forEachChild(node, visit);
    };
    visit(ts.createSourceFile("x.ts", text, ts.ScriptTarget.ES2022, true));
    return found;
}

describe("quirk options come from the catalogue", () => {
    test("no component sets ignoreChanges, deleteBeforeReplace or stopOnDestroy itself", () => {
        const direct = tsFiles(COMPONENTS)
            .filter((f) => path.basename(f) !== "quirks.ts")
            .flatMap((f) => {
                const rel = path.relative(COMPONENTS, f).split(path.sep).join("/");
                return propertiesSet(fs.readFileSync(f, "utf8"), FROM_CATALOGUE)
                    .filter((p) => OWN_REASONS[rel]?.[p] === undefined)
                    .map((p) => `${rel} sets ${p}`);
            });
        expect(direct).toEqual([]);
    });

    test("the check sees a property set directly", () => {
        expect(propertiesSet(`new X("a", {}, { parent: this, deleteBeforeReplace: true, ignoreChanges: ["x"] });`, FROM_CATALOGUE))
            .toEqual(["deleteBeforeReplace", "ignoreChanges"]);
        expect(propertiesSet(`new X("a", {}, { parent: this, ...quirkOptions("fixedVmid") });`, FROM_CATALOGUE)).toEqual([]);
    });

    test("quirkOptions merges the quirks' options with their ignored paths; quirkInputs gives a quirk's inputs", () => {
        expect(quirkOptions("fixedVmid", "vmVga", "vmDiskSpeed")).toEqual({ deleteBeforeReplace: true, ignoreChanges: ["vga", "disks[0].speed", "disks[1].speed"] });
        expect(quirkOptions("zfsPool")).toEqual({ ignoreChanges: [...QUIRKS.zfsPool.ignoreChanges] });
        expect(quirkInputs("vmStopOnDestroy")).toEqual({ stopOnDestroy: true });
        expect(quirkInputs("fixedVmid")).toEqual({});
    });

    test("every guest in the graph carries the catalogue's workaround: delete before replace, stop on destroy", async () => {
        const { graph } = await evaluate("private");
        const vms = ofType(graph.resources, QUIRK_TYPES.vm);
        const containers = ofType(graph.resources, QUIRK_TYPES.container);
        expect(vms.length).toBeGreaterThan(1);
        expect(containers.length).toBeGreaterThan(1);
        for (const guest of [...vms, ...containers]) {
            expect({ name: guest.name, deleteBeforeReplace: guest.options.deleteBeforeReplace }).toEqual({ name: guest.name, deleteBeforeReplace: true });
        }
        for (const vm of vms) {
            expect({ name: vm.name, stopOnDestroy: vm.inputs.stopOnDestroy }).toEqual({ name: vm.name, stopOnDestroy: true });
        }
    });
});
