/**
 * The admin API's face of the Cedar input guard (src/cmk/authz/policy-guard.ts, where the reasons and limits are
 * documented): refuses over-complex policy text with a 400 before anything else looks at it.
 */
import { policyComplexityProblem } from '../authz/policy-guard.js';
import { ApiError } from './errors.js';

export { MAX_POLICY_NESTING_DEPTH, MAX_POLICY_OPERATORS_PER_STATEMENT } from '../authz/policy-guard.js';

/** Throws ApiError INVALID_POLICY when `text` exceeds the nesting or operator budget. */
export function checkPolicyComplexity(text: string): void {
  const problem = policyComplexityProblem(text);
  if (problem !== undefined) throw new ApiError('INVALID_POLICY', problem);
}
