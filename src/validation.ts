// zod's issues in the words a user acts on: which field, what was wrong. Every
// boundary that parses with zod reports through these, so a field is named the
// same way whether it came over HTTP, from Redis or from the network.
import type { z } from 'zod';

/** zod issues as a flat list naming the field, for `details`. */
export function issuesOf(err: z.ZodError): { path: string; message: string }[] {
  return err.issues.map((i) => ({ path: i.path.map(String).join('.') || '(root)', message: i.message }));
}

/** zod issues on one line: `field: message; other.field: message`. */
export function describeIssues(err: z.ZodError): string {
  return issuesOf(err)
    .map((i) => `${i.path}: ${i.message}`)
    .join('; ');
}
