// The core bench's timing budgets (DESIGN.md "Budgets", issue 19's keyed
// figure), judged from one run's medians: each contender against the one it is
// measured by in the same run. Cost per task (≤ 1.15× raw in every process) is
// the cost mode's table, not here.

/** One contender's timing medians, as the core bench keeps them. */
export interface TimingFigures {
  pickupP50Ms: number;
  pickupP99Ms: number;
  throughputC1: number;
  throughputC50: number;
}

export interface BudgetVerdict {
  /** What is compared, as DESIGN.md words it. */
  budget: string;
  met: boolean;
  /** The measured figure and what it was measured against. */
  measured: string;
}

const ms = (x: number) => `${x.toFixed(3)} ms`;
const times = (a: number, b: number) => `${(a / b).toFixed(2)}×`;

/** The budgets whose contenders ran; `c50` names the high concurrency level. */
export function coreBudgets(r: Partial<Record<'raw' | 'swarmq' | 'intake' | 'http' | 'keyed', TimingFigures>>, c50 = 50): BudgetVerdict[] {
  const out: BudgetVerdict[] = [];
  const { raw, swarmq, intake, http, keyed } = r;
  if (raw && swarmq) {
    out.push(
      { budget: 'client: pickup p50 ≤ 1.3× raw', met: swarmq.pickupP50Ms <= 1.3 * raw.pickupP50Ms, measured: `${ms(swarmq.pickupP50Ms)} vs ${ms(raw.pickupP50Ms)} = ${times(swarmq.pickupP50Ms, raw.pickupP50Ms)}` },
      { budget: 'client: pickup p99 ≤ 5 ms', met: swarmq.pickupP99Ms <= 5, measured: `${ms(swarmq.pickupP99Ms)} (raw ${ms(raw.pickupP99Ms)})` },
      { budget: 'client: throughput c1 ≥ 0.9× raw', met: swarmq.throughputC1 >= 0.9 * raw.throughputC1, measured: `${swarmq.throughputC1}/s vs ${raw.throughputC1}/s = ${times(swarmq.throughputC1, raw.throughputC1)}` },
      { budget: `client: throughput c${c50} ≥ 0.9× raw`, met: swarmq.throughputC50 >= 0.9 * raw.throughputC50, measured: `${swarmq.throughputC50}/s vs ${raw.throughputC50}/s = ${times(swarmq.throughputC50, raw.throughputC50)}` },
    );
  }
  if (raw && intake) {
    out.push(
      { budget: 'intake: pickup p50 ≤ 2× raw', met: intake.pickupP50Ms <= 2 * raw.pickupP50Ms, measured: `${ms(intake.pickupP50Ms)} vs ${ms(raw.pickupP50Ms)} = ${times(intake.pickupP50Ms, raw.pickupP50Ms)}` },
      { budget: `intake: throughput c${c50} ≥ 0.7× raw`, met: intake.throughputC50 >= 0.7 * raw.throughputC50, measured: `${intake.throughputC50}/s vs ${raw.throughputC50}/s = ${times(intake.throughputC50, raw.throughputC50)}` },
    );
  }
  if (swarmq && http) {
    const added = http.pickupP50Ms - swarmq.pickupP50Ms;
    out.push({ budget: 'HTTP agent: pickup p50 ≤ 1 ms added', met: added <= 1, measured: `${ms(http.pickupP50Ms)} vs ${ms(swarmq.pickupP50Ms)} in process = +${ms(added)}` });
  }
  if (swarmq && keyed) {
    const more = keyed.pickupP50Ms / swarmq.pickupP50Ms - 1;
    out.push({ budget: 'keyed (issue 19): pickup p50 ≤ 10 % more than without a key', met: more <= 0.1, measured: `${ms(keyed.pickupP50Ms)} vs ${ms(swarmq.pickupP50Ms)} = ${(more * 100).toFixed(1)} % more` });
  }
  return out;
}
