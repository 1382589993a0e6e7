/** Where reports go: a local directory or object storage. */

/** Stores one report artifact and says where readers find it. */
export interface ReportSink {
  /** Store `body` under `name` (a relative path like "charts/x.svg"); resolves with its location. */
  put(name: string, body: string, contentType: string): Promise<{ location: string }>;
}
