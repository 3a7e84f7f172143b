/**
 * Prices the plan's cost estimate uses. us-east-1 list prices as known when written (the same as
 * docs/DEPLOY.md "Cost"); they were NOT checked on the day (no internet on the build machine).
 * Prices change and differ by region: re-check them before relying on the estimate.
 */
export const PRICES = {
  asOf: '2026-12-06 (list prices as known, not re-checked; see docs/DEPLOY.md)',
  region: 'us-east-1',
  /** Lambda arm64 (the deployed architecture), per GB-second. */
  lambdaPerGbSecond: 0.0000133334,
  lambdaPerRequest: 0.2 / 1_000_000,
  /** Step Functions Standard, per state transition. */
  stepFunctionsPerTransition: 0.025 / 1000,
  /** On-demand $/h of the Batch instances (Spot is typically 50–70% less). */
  instancePerHour: {
    'g5.xlarge': 1.006,
    'g4dn.xlarge': 0.526,
    /** The CPU queue's default instance (4 vCPU, 8 GiB). */
    'c6i.xlarge': 0.17,
  } as Record<string, number>,
} as const;

/** $/h of an instance type, or undefined when unknown. */
export function instancePrice(instanceType: string): number | undefined {
  return PRICES.instancePerHour[instanceType];
}
