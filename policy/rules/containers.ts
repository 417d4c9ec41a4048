/** LXCs run unprivileged: root in the container is not root on the host. */
import { ofType, Rule, TYPES } from "./model";

export const unprivilegedContainers: Rule = {
    name: "unprivileged-containers",
    // Mandatory by default; policy/config/private.json makes it advisory for the private side.
    description: "LXC containers are unprivileged (mandatory in public, advisory in private).",
    level: "mandatory",
    config: {},
    check(stack) {
        return ofType(stack, TYPES.container)
            .filter((c) => c.props.unprivileged !== true)
            .map((c) => ({ urn: c.urn, message: `container ${c.name} is privileged: root inside is root on the Proxmox host` }));
    },
};
