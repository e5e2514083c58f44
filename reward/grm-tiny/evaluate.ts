export async function evaluateHeldOut(_options: unknown): Promise<unknown> {
  throw new Error('not yet');
}
