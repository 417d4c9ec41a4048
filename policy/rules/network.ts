/** Guests of the listed environments have the firewall on with input policy DROP. */
import { guestId, ofType, records, Rule, text, TYPES } from "./model";

export const publicDefaultDeny: Rule<{ environments: string[] }> = {
    name: "public-default-deny",
    description: "Public guests have the firewall on (on the guest and its NICs) with input and output policy DROP.",
    level: "mandatory",
    config: {
        environments: { type: "array", items: { type: "string" }, default: ["public"], description: "environments whose guests must default-deny" },
    },
    check(stack, config) {
        if (stack.environment === undefined || !config.environments.includes(stack.environment)) {
            return [];
        }
        const options = ofType(stack, TYPES.firewallOptions);
        const optionsFor = (id: number, kind: "vmId" | "containerId") => options.find((o) => o.props[kind] === id);
        const guests = [
            ...ofType(stack, TYPES.vm).map((g) => ({ g, nics: records(g.props.networkDevices), kind: "vmId" as const })),
            ...ofType(stack, TYPES.container).map((g) => ({ g, nics: records(g.props.networkInterfaces), kind: "containerId" as const })),
        ].filter(({ nics }) => nics.length > 0);
        return guests.flatMap(({ g, nics, kind }) => {
            const wrong: string[] = [];
            nics.forEach((nic, i) => nic.firewall !== true && wrong.push(`NIC ${i} has firewall off, so no rule applies`));
            const id = guestId(g);
            const opts = id === undefined ? undefined : optionsFor(id, kind);
            if (opts === undefined) {
                wrong.push("has no firewall options (enabled, input and output DROP)");
            } else {
                if (opts.props.enabled !== true) wrong.push("firewall is not enabled");
                if (opts.props.inputPolicy !== "DROP") wrong.push(`input policy is ${text(opts.props.inputPolicy ?? "unset (ACCEPT)")}, needs DROP`);
                if (opts.props.outputPolicy !== "DROP") wrong.push(`output policy is ${text(opts.props.outputPolicy ?? "unset (ACCEPT)")}, needs DROP (out only to its subnet, DNS and the internet)`);
            }
            return wrong.map((w) => ({ urn: g.urn, message: `${stack.environment} guest ${g.name}: ${w}` }));
        });
    },
};
