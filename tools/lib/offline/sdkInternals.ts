/**
 * The one file that relies on @pulumi/pulumi beyond its documented surface. RE-CHECK THIS
 * FILE ON EVERY @pulumi/pulumi UPGRADE (last checked with 3.248 on Node 20; the
 * tests in tests/ fail if either part below stops working):
 *
 * - An Output's internals (`isKnown`, `isSecret`, `promise()`, `allResources()`), read to see
 *   through Outputs: whether a value is known, secret, and which resources stand behind it.
 *   They live in the SDK's output.ts (`OutputImpl`) and are not part of its typed API.
 * - How a program runs and is seen under mocks: `runtime.runInPulumiStack` runs it as the
 *   stack's program (what the CLI's language host does). The engine-side resource transforms
 *   are unavailable under mocks, but a stack transformation registered inside it sees each
 *   resource's type, name, props and options as the program passes them.
 */
import * as pulumi from "@pulumi/pulumi";

/** The parts of an Output the SDK keeps internal; read only here, to see through Outputs. */
interface OutputInternals {
    readonly isKnown: Promise<boolean>;
    readonly isSecret: Promise<boolean>;
    promise(withUnknowns?: boolean): Promise<unknown>;
    allResources(): Promise<Set<pulumi.Resource>>;
}

export function internals<T>(output: pulumi.Output<T>): OutputInternals {
    return output as unknown as OutputInternals;
}

/** One resource registration as the program made it. */
export interface Registration {
    readonly resource: pulumi.Resource;
    readonly type: string;
    readonly name: string;
    readonly custom: boolean;
    readonly props: pulumi.Inputs;
    readonly opts: pulumi.ResourceOptions;
}

/** Runs `program` as the stack's program under the mocks already set; its result becomes the stack's outputs. */
export async function runAsStack(program: () => Promise<Record<string, unknown>>): Promise<void> {
    await pulumi.runtime.runInPulumiStack(program);
}

/** Runs `program` as the stack's program, telling `onRegistration` about every resource it registers. */
export async function runRecordingRegistrations(
    program: () => Promise<Record<string, unknown>>,
    onRegistration: (registration: Registration) => void,
): Promise<void> {
    await runAsStack(async () => {
        pulumi.runtime.registerStackTransformation((t) => {
            onRegistration({
                resource: t.resource,
                type: t.type,
                name: t.name,
                custom: t.resource instanceof pulumi.CustomResource,
                props: t.props,
                opts: t.opts,
            });
            return undefined;
        });
        return program();
    });
}
