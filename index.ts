// Pulumi calls the exported function and uses its result as the stack outputs.
import { program } from "./program";

export = program;
