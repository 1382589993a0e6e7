/** The part of dynalite 4 (no bundled types) the embedded store uses. */
declare module 'dynalite' {
  interface DynaliteOptions {
    /** LevelDB directory; in memory when absent. */
    path?: string;
    /** How long tables stay CREATING. @default 500 */
    createTableMs?: number;
    deleteTableMs?: number;
    updateTableMs?: number;
    maxItemSizeKb?: number;
  }
  /** A DynamoDB-compatible HTTP server; close() also closes its database. */
  function dynalite(options?: DynaliteOptions): import('node:http').Server;
  export = dynalite;
}
