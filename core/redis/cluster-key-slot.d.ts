// Types for cluster-key-slot (ioredis's own dependency for Cluster routing), which ships none.
declare module 'cluster-key-slot' {
  /** The Redis Cluster hash slot (0..16383) of a key, honouring its {hash tag}. */
  function calculateSlot(key: string): number;
  export = calculateSlot;
}
