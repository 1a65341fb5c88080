// The integration and chaos files the `cluster` vitest project runs again on a
// three-master Cluster (SWARMQ_TEST_TOPOLOGY=cluster): the ones that exercise
// what a Cluster changes (slots, per-master scripts, per-slot reads). The
// reasons, and the files left out, are in docs/cluster.md ("The suites on a
// Cluster").
export const clusterFiles: readonly string[] = [
  'tests/integration/httpApi.test.ts',
  'tests/integration/taskPath.test.ts',
  'tests/integration/threeWaysIn.test.ts',
  'tests/integration/agentHost.test.ts',
  'tests/integration/balancer.test.ts',
  'tests/integration/hibernation.test.ts',
  'tests/integration/heartbeat.test.ts',
  'tests/integration/consensusApi.test.ts',
  'tests/integration/replicatedTasks.test.ts',
  'tests/integration/agentsApi.test.ts',
  'tests/integration/sseEvents.test.ts',
  'tests/integration/unknownTaskType.test.ts',
  'tests/integration/busyNode.test.ts',
  'tests/integration/finishedTail.test.ts',
  'tests/integration/metrics.test.ts',
  'tests/integration/consensusQuorum.test.ts',
  'tests/integration/eventsAcrossProcesses.test.ts',
  'tests/integration/coordinatorPartitions.test.ts',
  'tests/integration/taskProgress.test.ts',
  'tests/integration/cancelRunning.test.ts',
  'tests/integration/approval.test.ts',
  'tests/integration/approvalWaysIn.test.ts',
  'tests/integration/keyLimits.test.ts',
  'tests/integration/keyPools.test.ts',
  'tests/integration/budgets.test.ts',
  'tests/chaos/hostFailure.test.ts',
  'tests/chaos/agentHostKill.test.ts',
  'tests/chaos/lostLock.test.ts',
  'tests/chaos/coordinatorFailover.test.ts',
  'tests/chaos/chaosRun.test.ts',
];
