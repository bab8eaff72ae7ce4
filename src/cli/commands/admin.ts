/** `openkcm admin` (issue 18): see src/cli/enrol.ts and docs/clients.md. */
import { runEnrol } from '../enrol.js';

export function run(argv: string[]): Promise<number> {
  return runEnrol('admin', argv);
}
