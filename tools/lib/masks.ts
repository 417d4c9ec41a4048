/** How the offline graph and the drift report show values they must not reveal. */
export const SECRET_MASK = "[secret]";
export const UNKNOWN_MASK = "[unknown]";
