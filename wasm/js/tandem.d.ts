// Types for wasm/js/tandem.mjs. Message objects follow proto/tandem.proto with protobufjs's camelCase field
// names; decoded uint64 fields are bigint, enums are their names, bytes are Uint8Array.
import type { Enum, Root, Type } from 'protobufjs';

export type ErrorCodeName =
  | 'OK' | 'MALFORMED_REQUEST' | 'UNKNOWN_REQUEST' | 'INVALID_ARGUMENT' | 'NULL_HANDLE' | 'UNKNOWN_HANDLE'
  | 'STALE_HANDLE' | 'WRONG_HANDLE_TYPE' | 'DISPOSED' | 'RESOURCE_EXHAUSTED' | 'INTERNAL';
export type EventKindName = 'LOG_BATCH' | 'METRICS_REPORT' | 'SYNTHETIC_EVENT';
export type HandleTypeName = 'HANDLE_TYPE_UNSPECIFIED' | 'SUBSCRIPTION' | 'SYNTHETIC' | 'LOAD_GENERATOR';
export type LogLevelName = 'LOG_LEVEL_UNSPECIFIED' | 'TRACE' | 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'OFF';
export type MetricsFormatName = 'STRUCTURED' | 'JSON' | 'PROMETHEUS';
export type OverflowPolicyName = 'DROP_OLDEST' | 'DROP_NEWEST';

export class TandemError extends Error {
  readonly name: 'TandemError';
  /** The ErrorCode name; stable, switch on it. */
  readonly code: ErrorCodeName | string;
  readonly value: number;
  /** The core's message, or the call that failed. */
  readonly detail: string;
}

export interface InitializeOptions {
  metricsReportIntervalMs?: number;
  metricsReportDisabled?: boolean;
  metricsResetOnReport?: boolean;
  logLevel?: LogLevelName;
  logBatchSize?: number;
  logToPlatform?: boolean;
}

export interface StartOptions {
  options?: InitializeOptions;
  /** tandem_core.mjs (the .wasm must sit beside it). Default: build/wasm/wasm/ in the source tree; in node,
   *  the TANDEM_CORE_DIR environment variable overrides the default. Relative: to the page / the cwd. */
  coreUrl?: string | URL;
  /** tandem.proto. Default: proto/tandem.proto in the source tree. */
  protoUrl?: string | URL;
  /** worker.mjs. Default: the one beside tandem.mjs. */
  workerUrl?: string | URL;
}

export interface Proto {
  root: Root;
  InitializeOptions: Type;
  FfiRequest: Type;
  FfiResponse: Type;
  FfiEvent: Type;
  ErrorCode: Enum;
}

/** A decoded FfiResponse; exactly one of the request-specific fields is set, named by `message`. */
export interface FfiResponse {
  error: ErrorCodeName;
  errorMessage: string;
  asyncId: bigint;
  message?: string;
  [field: string]: unknown;
}

export interface HistogramSnapshot {
  name: string; label: string; count: bigint; meanNs: number;
  p50Ns: bigint; p90Ns: bigint; p99Ns: bigint; p999Ns: bigint; maxNs: bigint; minNs: bigint;
}
export interface CounterSnapshot { name: string; label: string; value: bigint; }
export interface GaugeSnapshot { name: string; label: string; value: bigint; }
export interface MetricsReport {
  timeNs: bigint;
  intervalNs: bigint;
  histograms: HistogramSnapshot[];
  counters: CounterSnapshot[];
  gauges: GaugeSnapshot[];
}

export interface LogRecord { level: LogLevelName; timeNs: bigint; target: string; message: string; }
export interface LoadGeneratorResult {
  eventsPublished: bigint; handlesChurned: bigint; durationNs: bigint; stoppedEarly: boolean;
}

/** A decoded FfiEvent; `message` names the payload that is set. */
export interface FfiEvent {
  key: bigint;
  asyncId: bigint;
  message?: 'logBatch' | 'metricsReport' | 'synthetic' | 'requestComplete';
  logBatch?: { records: LogRecord[]; dropped: bigint };
  metricsReport?: MetricsReport;
  synthetic?: { sequence: bigint; generator: bigint; payload: Uint8Array };
  requestComplete?: {
    error: ErrorCodeName; errorMessage: string; result?: string; loadGenerator?: LoadGeneratorResult;
  };
}

/** One delivered subscription event. `bytes` (an encoded FfiEvent) belongs to the receiver but may share its
 *  ArrayBuffer with other events of the same batch: slice() it before transferring it elsewhere. */
export class TandemEvent {
  readonly subscription: bigint;
  readonly bytes: Uint8Array;
  /** Decoded on first call, then cached. */
  decode(): FfiEvent;
}

export interface LoadGeneratorParams {
  events?: number;
  keys?: Array<bigint | number>;
  payloadBytes?: number;
  eventsPerSecond?: number;
  handleChurn?: number;
  batch?: number;
}

export interface LoadGeneratorRun {
  generator: bigint;
  asyncId: bigint;
  /** Resolves when the run ends; rejects with a TandemError (e.g. DISPOSED). */
  completion: Promise<LoadGeneratorResult>;
}

export interface PingResult {
  /** Measured on the calling thread with performance.now(): encode + worker hop + core + decode. */
  rttNs: number;
  payload: Uint8Array;
  sentNs: bigint;
  coreNowNs: bigint;
}

export interface MetricsSettings { reportIntervalMs?: number; reportDisabled?: boolean; resetOnReport?: boolean; }

export function loadProto(protoUrl?: string | URL): Promise<Proto>;

export class Tandem {
  /** Starts a worker, loads the wasm core into it and initializes it. Rejects with a TandemError. */
  static start(options?: StartOptions): Promise<Tandem>;
  readonly types: Proto;

  /** Encoded FfiRequest in, encoded FfiResponse out. The bytes are copied; the response is the caller's. */
  request(bytes: Uint8Array): Promise<Uint8Array>;
  /** Rejects with NULL_HANDLE, UNKNOWN_HANDLE, STALE_HANDLE or DISPOSED. */
  dropHandle(handle: bigint): Promise<void>;
  /** Graceful shutdown (final METRICS_REPORT to subscribers), then frees the core and ends the worker.
   *  Pending calls and waiters reject with DISPOSED. Idempotent. */
  dispose(options?: { timeoutMs?: number }): Promise<void>;

  /** Subscription events, all or of one subscription. Returns a function that removes the listener. */
  onEvent(callback: (event: TandemEvent) => void, filter?: { subscription?: bigint }): () => void;
  /** The REQUEST_COMPLETE event of the request that answered with this async id. */
  waitFor(asyncId: bigint): Promise<FfiEvent>;
  decodeEvent(bytes: Uint8Array): FfiEvent;

  encodeRequest(request: Record<string, unknown>): Uint8Array;
  decodeResponse(bytes: Uint8Array): FfiResponse;
  /** Encode, send, decode; rejects with a TandemError when the response carries an error. */
  call(request: Record<string, unknown>): Promise<FfiResponse>;
  requestAsync(request: Record<string, unknown>): Promise<{ response: FfiResponse; completion: Promise<FfiEvent> }>;

  subscribe(kinds: Array<EventKindName | number>,
    options?: { key?: bigint | number; queueCapacity?: number; overflow?: OverflowPolicyName }): Promise<bigint>;
  unsubscribe(subscription: bigint): Promise<void>;
  ping(payload?: Uint8Array): Promise<PingResult>;
  getMetrics(options?: { format?: 'STRUCTURED'; reset?: boolean }): Promise<MetricsReport>;
  getMetrics(options: { format: 'JSON' | 'PROMETHEUS'; reset?: boolean }): Promise<string>;
  configureMetrics(settings: MetricsSettings): Promise<Required<MetricsSettings>>;
  loadGenerator(params: LoadGeneratorParams): Promise<LoadGeneratorRun>;
  /** The worker boundary alone (no core), for benchmarks. */
  echo(bytes: Uint8Array): Promise<Uint8Array>;
}
