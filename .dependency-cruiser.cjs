// The layer rules `npm test` checks (docs/architecture.md says why each holds).
// queues/ <- src/ engine <- processors/; dashboards/ is given what it shows;
// src/cli and src/index.ts compose the layers and may import any of them.
const pureCores = [
  '^src/routing/',
  '^src/balancer/plan\\.ts$',
  '^src/health/classify\\.ts$',
  '^src/health/baseline\\.ts$',
  '^src/consensus/(quorum|raft|pbft|fast-paxos)/',
  '^src/consensus/(tally|reach|replay)\\.ts$',
  '^src/health/breaker\\.ts$',
  '^src/partitions/',
];
const composition = '^src/(cli/|index\\.ts$)';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      severity: 'error',
      comment: 'An import cycle makes two modules one: break it by moving what both need into a third.',
      from: { path: '^(src|queues|processors|dashboards)/' },
      to: { circular: true },
    },
    {
      name: 'queues-below-the-engine',
      severity: 'error',
      comment: 'queues/ (names, connections, Lua wrappers) is the bottom layer: it imports nothing of swarmq above it.',
      from: { path: '^queues/' },
      to: { path: '^(src|processors|dashboards)/' },
    },
    {
      name: 'engine-below-processors-and-dashboards',
      severity: 'error',
      comment: 'The engine is given processors and dashboards by the composition root (src/cli, src/index.ts); it never imports them.',
      from: { path: '^src/', pathNot: composition },
      to: { path: '^(processors|dashboards)/' },
    },
    {
      name: 'dashboards-given-what-they-show',
      severity: 'error',
      comment: 'A dashboard is handed its data as arguments: it may name engine types, never call the engine.',
      from: { path: '^dashboards/' },
      to: { path: '^src/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'pure-cores-do-no-io',
      severity: 'error',
      comment: 'Protocol and decision cores are pure: no Redis, no queues, no sockets, no clock of their own.',
      from: { path: pureCores },
      to: { path: ['^node_modules/(ioredis|bullmq)/', '^(node:)?(net|timers|timers/promises|dgram|http|https|fs)$', '^queues/'] },
    },
    {
      name: 'pure-cores-no-engine-shell',
      severity: 'error',
      comment: 'A pure core imports only other pure code: not the runtime, agents, coordinator or API.',
      from: { path: pureCores },
      to: { path: '^src/(agents|api|cli|coordinator|consensus/runtime|metrics|swarm|checkpoint)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    combinedDependencies: false,
    parser: 'swc',
  },
};
