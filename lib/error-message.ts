/** The message of a thrown value, whether an Error or anything else. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
