/** @type {import('jest').Config} */
module.exports = {
    testEnvironment: "node",
    // Pulumi keeps its runtime state on globals; Jest's soft cleanup only warns about it.
    testEnvironmentOptions: { globalsCleanup: "off" },
    roots: ["<rootDir>/tests", "<rootDir>/policy"],
    testMatch: ["**/*.test.ts"],
    // Types are checked once by `tsc --noEmit` in `npm test`; here we only transpile.
    transform: { "^.+\\.ts$": ["ts-jest", { diagnostics: false, tsconfig: { isolatedModules: true } }] },
    testTimeout: 60000,
    modulePathIgnorePatterns: ["<rootDir>/policy/node_modules"],
};
