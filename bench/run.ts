// `npm run bench -- <name> [flags]`: runs one benchmark; an unknown name lists them.
interface Benchmark {
  summary: string;
  usage: string;
  run(args: string[]): Promise<void>;
}

const benchmarks: Record<string, Benchmark> = {
  core: {
    summary: 'pickup latency, throughput, submit-path commands and round trips, and cost (CPU per task of each process, Redis µs per task by script): raw BullMQ vs swarmq client vs intake queue, one Redis, one run',
    usage:
      'core [--tasks N (20000)] [--pickups N (2000)] [--warmup N (200)] [--window N (256)] [--reps N (3)] [--submits N (1000)] [--submit-agents N (50)] [--cancels N (200)] ' +
      '[--cost-tasks N (10000)] [--slowlog-tasks N (5000)] [--cost-reps N (3)] [--cost-contenders raw,swarmq,intake,http,keyed,raw-opts] [--only raw,swarmq,intake,http,keyed,raw-opts,submit-path,cancel,cost] [--no-write] [--verbose]',
    run: async (args) => (await import('./core.ts')).run(args),
  },
  agents: {
    summary: '1,000 agents in one process: ready time, RSS and Redis connections (raw BullMQ Workers vs AgentHost batch and waves), pooled acquire latency',
    usage:
      'agents [--agents N (1000)] [--queues N (100)] [--wave-size N (20)] [--pool N (200)] [--acquires N (1000)] [--seated N (1000)] [--keep-per-node N (1)] [--cold-acquires N (100)] [--reps N (3)] [--only raw,batch,waves,pool] [--verbose]',
    run: async (args) => (await import('./agents.ts')).run(args),
  },
  balance: {
    summary: 'skewed load: makespan with every task sent to one node of ten (stealing on, and raw BullMQ) against a balanced run; routing decision cost per strategy at 1,000 agents',
    usage:
      'balance [--tasks N (5000)] [--agents N (100)] [--min-ms N (5)] [--max-ms N (50)] [--seed N (42)] [--reps N (3)] [--steal-interval-ms N (default 250)] [--submit single|batch (single)] [--batch N (250)] [--window N (256)] [--poll-ms N (10)] [--routing-agents N (1000)] [--routing-ms N (1000)] [--only balanced,even,skewed,skewed-warm,nosteal,routing] [--verbose]',
    run: async (args) => (await import('./balance.ts')).run(args),
  },
  recovery: {
    summary: 'agent host SIGKILLed with active tasks: time until all of them started elsewhere (swarmq defaults vs raw BullMQ default and lockDuration 1,000), and false recoveries of a host paused 3 s',
    usage: 'recovery [--trials N (20)] [--stop-trials N (5)] [--stop-ms N (3000)] [--observe-ms N (3000)] [--agents N (4)] [--tasks N (4)] [--only swarmq,rawDefault,rawTuned]',
    run: async (args) => (await import('./recovery.ts')).run(args),
  },
  scale: {
    summary: '1,000 and 10,000 agents on one Redis (host processes of 1,000): ready time; idle Redis commands/s and CPU of every process, with 0 and 10 idle producers; pickup p50/p99; throughput at 50 in flight; /dashboard load and worst frame',
    usage: 'scale [--hosts 1,10] [--per-host N (1000)] [--idle-ms N (30000)] [--settle-ms N (5000)] [--producers N (10)] [--pickups N (500)] [--tasks N (10000)] [--no-dashboard]',
    run: async (args) => (await import('./scale.ts')).run(args),
  },
  cluster: {
    summary: 'the same work on one Redis and on a three-master Redis Cluster: throughput at 50 in flight, pickup p50/p99, each master\'s share of commands and Redis CPU per task; 10 hosts × 1,000 agents: ready time, connections per master, pickup p99',
    usage: 'cluster [--per-host N (1000)] [--hosts N (10)] [--tasks N (20000)] [--pickups N (500)] [--no-fleet]',
    run: async (args) => (await import('./cluster.ts')).run(args),
  },
  consensus: {
    summary: 'propose → decision latency per protocol (quorum, raft, pbft, fast-paxos) among 4, 16 and 100 agents on 4 host processes, authenticated, through real Redis',
    usage: 'consensus [--rounds N (50)] [--warmup N (5)] [--tick-ms N (50)] [--only quorum,raft,pbft,fast-paxos] [--sizes 4,16,100] [--certified-sizes 100 | --no-certified] [--trace]',
    run: async (args) => (await import('./consensus.ts')).run(args),
  },
};

function list(): string {
  const width = Math.max(...Object.keys(benchmarks).map((n) => n.length));
  return [
    'available benchmarks (npm run bench -- <name> [flags]):',
    ...Object.entries(benchmarks).flatMap(([n, b]) => [`  ${n.padEnd(width)}  ${b.summary}`, `  ${' '.repeat(width)}  usage: ${b.usage}`]),
  ].join('\n');
}

const [name, ...rest] = process.argv.slice(2);
const bench = name === undefined ? undefined : benchmarks[name];
if (!bench) {
  if (name !== undefined && name !== '--help' && name !== '-h' && name !== 'list') {
    console.error(`unknown benchmark "${name}"\n`);
    process.exitCode = 2;
  }
  console.error(list());
} else {
  try {
    await bench.run(rest);
  } catch (err) {
    console.error(`bench ${name} failed: ${(err as Error).stack ?? String(err)}`);
    process.exitCode = 1;
  }
}
