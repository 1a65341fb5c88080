// Types for cluster-key-slot (the hash-slot function ioredis's Cluster routes
// with), which ships none.
declare module 'cluster-key-slot' {
  /** The Redis Cluster hash slot (0–16383) of a key: of its hash tag, when it has one. */
  function calculateSlot(key: string | Buffer): number;
  export default calculateSlot;
}
