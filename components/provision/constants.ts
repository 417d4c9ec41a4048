/** The ext4 label of the AI VM's data disk (at most 16 characters). */
export const DATA_LABEL = "aidata";
