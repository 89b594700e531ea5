/** Three projects by kind: unit (no I/O), infra (CDK assertions), integration (real services). */
// hyparquet, hyparquet-writer and d3-scale (with its d3-* and internmap) are ES modules only: compiled to CommonJS for Jest like our own code.
const transform = {
  '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' } }],
  '/node_modules/(hyparquet[^/]*|d3-[^/]+|internmap)/.+\\.m?js$': [
    '@swc/jest',
    { jsc: { target: 'es2022' }, module: { type: 'commonjs' } },
  ],
};
const common = {
  transform,
  transformIgnorePatterns: ['/node_modules/(?!hyparquet|d3-|internmap)'],
  testEnvironment: 'node',
  moduleFileExtensions: ['ts', 'js', 'json'],
};

module.exports = {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    { ...common, displayName: 'infra', testMatch: ['<rootDir>/test/infra/**/*.test.ts'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
    },
  ],
  testTimeout: 60000,
};
