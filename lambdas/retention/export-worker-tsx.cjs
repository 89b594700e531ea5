// The export thread's entry when the code runs as TypeScript (tsx, Jest): compile on load with tsx,
// then run export-worker.ts. A bundle or build runs export-worker.js directly (export-threads.ts).
require('tsx/cjs/api').register();
require('./export-worker.ts');
