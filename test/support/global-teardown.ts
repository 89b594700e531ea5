export default async function globalTeardown(): Promise<void> {
  const pg = (globalThis as { __dlcPg?: { stop(): Promise<void> } }).__dlcPg;
  await pg?.stop();
}
