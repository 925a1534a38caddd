// Types for wasm/js/tandem.mjs. Message objects follow proto/tandem.proto with protobufjs's camelCase field
// names; decoded uint64 fields are bigint, enums are their names, bytes are Uint8Array.
import type { Enum, Root, Type } from 'protobufjs';

export type ErrorCodeName =
  | 'OK' | 'MALFORMED_REQUEST' | 'UNKNOWN_REQUEST' | 'INVALID_ARGUMENT' | 'NULL_HANDLE' | 'UNKNOWN_HANDLE'
  | 'STALE_HANDLE' | 'WRONG_HANDLE_TYPE' | 'DISPOSED' | 'RESOURCE_EXHAUSTED' | 'INTERNAL'
  | 'AUTHENTICATION_FAILED' | 'REPLAYED' | 'MALFORMED_PACKET' | 'TIMED_OUT' | 'PROTOCOL_ERROR';
export type EventKindName =
  | 'LOG_BATCH' | 'METRICS_REPORT' | 'SYNTHETIC_EVENT' | 'MEDIA_PACKETS' | 'AUDIO_FRAME' | 'VIDEO_FRAME'
  | 'PEER_EVENT' | 'DATA_CHANNEL_STATE' | 'DATA_CHANNEL_MESSAGE' | 'PEER_DATAGRAMS';
export type HandleTypeName =
  | 'HANDLE_TYPE_UNSPECIFIED' | 'SUBSCRIPTION' | 'SYNTHETIC' | 'LOAD_GENERATOR' | 'MEDIA_SESSION'
  | 'AUDIO_SOURCE' | 'AUDIO_STREAM' | 'VIDEO_SOURCE' | 'VIDEO_STREAM' | 'PEER_CONNECTION' | 'DATA_CHANNEL';
export type AudioFrameOriginName = 'DECODED' | 'FEC' | 'CONCEALED';
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
  message?: 'logBatch' | 'metricsReport' | 'synthetic' | 'requestComplete' | 'mediaPackets' | 'audioFrame'
    | 'videoFrame' | 'peerEvent' | 'dataChannelState' | 'dataChannelMessage' | 'peerDatagrams';
  logBatch?: { records: LogRecord[]; dropped: bigint };
  metricsReport?: MetricsReport;
  synthetic?: { sequence: bigint; generator: bigint; payload: Uint8Array };
  requestComplete?: {
    error: ErrorCodeName; errorMessage: string; result?: string; loadGenerator?: LoadGeneratorResult;
  };
  mediaPackets?: { session: bigint; packets: Uint8Array[] };
  /** pcm: s16 little-endian, interleaved. It may sit at an odd offset of its buffer: copy it before viewing it
   *  as an Int16Array if byteOffset is odd. */
  audioFrame?: {
    stream: bigint; pcm: Uint8Array; sampleRate: number; channels: number; samplesPerChannel: number;
    rtpTimestamp: number; origin: AudioFrameOriginName; playoutNs: bigint;
  };
  /** i420: packed planes (Y, then U, then V; no row padding). */
  videoFrame?: {
    stream: bigint; width: number; height: number; i420: Uint8Array; rtpTimestamp: number; keyframe: boolean;
    decodedNs: bigint;
  };
  /** One of the `event` fields is set, named by `event`. Enums are their proto names (ICE_CONNECTED, ...). */
  peerEvent?: {
    peer: bigint;
    event?: 'localCandidate' | 'gatheringComplete' | 'iceState' | 'dtlsState' | 'connectionState' | 'remoteTrack'
      | 'dataChannel' | 'error';
    localCandidate?: string; gatheringComplete?: boolean; iceState?: string; dtlsState?: string;
    connectionState?: string; error?: string;
    remoteTrack?: { mid: string; kind: string; ssrc: number; payloadType: number; codec: string; streamId: string;
      trackId: string };
    dataChannel?: { channel: bigint; id: number; label: string; protocol: string; unordered: boolean;
      hasMaxRetransmits: boolean; maxRetransmits: number; hasMaxPacketLifetime: boolean;
      maxPacketLifetimeMs: number; negotiated: boolean };
  };
  dataChannelState?: {
    channel: bigint; state: 'CHANNEL_OPEN' | 'BUFFERED_AMOUNT_LOW' | 'CHANNEL_CLOSED'; bufferedAmount: bigint;
    error: string; id: number;  // id: the SCTP stream id, in CHANNEL_OPEN
  };
  dataChannelMessage?: { channel: bigint; data: Uint8Array; binary: boolean };
  peerDatagrams?: { peer: bigint; datagrams: PeerDatagram[] };
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

export interface MediaStats {
  type: HandleTypeName;
  /** snake_case name -> value, e.g. packets_lost, jitter_ms, rtt_ms (see proto/tandem.proto, GetMediaStats). */
  stats: Record<string, number>;
}

/** Counters of one side of a media port, kept by its worker. */
export interface MediaPortStats {
  /** MEDIA_PACKETS events (batches) of our session posted to the port, their datagrams and payload bytes. */
  batchesSent: number; datagramsSent: number; bytesSent: number;
  /** Batches from the peer handed to our session, and the core's verdict on their datagrams. */
  batchesReceived: number; datagramsAccepted: number; datagramsRejected: number;
  /** deliver_media_packets requests that failed as a whole (e.g. the session was dropped). */
  deliverErrors: number;
  /** Port messages that were not a batch (not an ArrayBuffer). */
  ignoredMessages: number;
}

/** A browser MessagePort or a node:worker_threads MessagePort (either is transferred to the worker). */
export interface TransferablePort {
  postMessage(...args: any[]): void;
  close(): void;
}

/** A media session joined to a MessagePort inside its worker (Tandem.connectMediaPort). */
export interface MediaPort {
  readonly session: bigint;
  /** The MEDIA_PACKETS subscription that feeds the port (dropped by close()). */
  readonly subscription: bigint;
  stats(): Promise<MediaPortStats>;
  /** Drops the subscription and closes the port; resolves with the final counters. Idempotent. */
  close(): Promise<MediaPortStats>;
}

export interface MetricsSettings { reportIntervalMs?: number; reportDisabled?: boolean; resetOnReport?: boolean; }

export function loadProto(protoUrl?: string | URL): Promise<Proto>;

// ---- Peers (peer.mjs): RTCPeerConnection-shaped, over datagrams the application carries.

/** CreatePeerRequest. In wasm: localAddresses (virtual "ip:port" / "[ipv6]:port", one host candidate each). */
export interface PeerOptions {
  localAddresses?: string[];
  /** ICE connectivity-check pace (Ta); 0 = 50 ms. */
  iceCheckIntervalMs?: number;
  /** PEM; both empty: the core's generated ECDSA P-256 certificate. */
  certificatePem?: string;
  privateKeyPem?: string;
  cname?: string;
  /** Native cores only (INVALID_ARGUMENT in wasm): the core opens UDP sockets itself. */
  usePlatformSockets?: boolean;
  includeLoopback?: boolean;
  loopbackOnly?: boolean;
}

/** One datagram. Outgoing (ondatagrams): local = our address, remote = where to. Incoming
 *  (deliverDatagrams): local = the address it arrived on, remote = the sender. */
export interface PeerDatagram { local: string; remote: string; data: Uint8Array; }

export interface SessionDescriptionInit { type: 'offer' | 'answer'; sdp: string; }
export interface IceCandidateInit {
  /** "candidate:..." (no "a="). */
  candidate: string;
  /** The first m-line's mid (candidates are BUNDLEd). */
  sdpMid: string | null;
  sdpMLineIndex: number | null;
  usernameFragment?: string | null;
}

export interface DataChannelInit {
  ordered?: boolean;
  /** At most one of maxRetransmits / maxPacketLifeTime (INVALID_ARGUMENT otherwise). */
  maxRetransmits?: number;
  maxPacketLifeTime?: number;
  protocol?: string;
  /** Both sides create it with the same id; no DCEP open message. */
  negotiated?: boolean;
  id?: number;
}

/** What a remote track is (an RTCTrackEvent's fields, but information only): receive it with
 *  create_audio_stream / create_video_stream on peer.mediaSession with remoteSsrc = ssrc. */
export interface RemoteTrackInfo {
  kind: 'audio' | 'video'; id: string; mid: string; ssrc: number; payloadType: number; codec: string;
}

export type PeerConnectionStateName = 'new' | 'connecting' | 'connected' | 'disconnected' | 'failed' | 'closed';
export type IceConnectionStateName =
  | 'new' | 'checking' | 'connected' | 'completed' | 'failed' | 'disconnected' | 'closed';
export type DtlsStateName = 'new' | 'connecting' | 'connected' | 'closed' | 'failed';
export type DataChannelStateName = 'connecting' | 'open' | 'closing' | 'closed';

export type IceCandidateEvent = Event & { candidate: IceCandidateInit | null };
export type DataChannelEvent = Event & { channel: DataChannel };
export type TrackEvent = Event & { track: RemoteTrackInfo; streams: Array<{ id: string }> };
export type MessageEventData = Event & { data: string | Uint8Array };
export type ErrorEventData = Event & { error: TandemError };

/** A data channel (a DATA_CHANNEL handle). Events: open, message, bufferedamountlow, close, error. */
export class DataChannel extends EventTarget {
  readonly handle: bigint;
  readonly label: string;
  readonly protocol: string;
  readonly ordered: boolean;
  readonly maxRetransmits: number | null;
  readonly maxPacketLifeTime: number | null;
  readonly negotiated: boolean;
  /** SCTP stream id; null while the DTLS role (which decides its parity) is unknown. */
  readonly id: number | null;
  readonly readyState: DataChannelStateName;
  /** Bytes queued in the core beyond SCTP's send buffer plus those of unanswered send() calls, as of the
   *  core's last answer or state event (bytes inside SCTP's buffer are not counted, unlike in browsers). */
  readonly bufferedAmount: number;
  /** Setting it sends a request; a failure fires 'error'. */
  bufferedAmountLowThreshold: number;
  onopen: ((e: Event) => void) | null;
  /** data: a string for text messages; a Uint8Array (a view into the event batch) for binary ones. */
  onmessage: ((e: MessageEventData) => void) | null;
  onbufferedamountlow: ((e: Event) => void) | null;
  onclose: ((e: Event) => void) | null;
  onerror: ((e: ErrorEventData) => void) | null;
  setBufferedAmountLowThreshold(bytes: number): Promise<void>;
  /** Up to 256 KiB. Resolves with the buffered amount; rejects with INVALID_ARGUMENT (not open, too large)
   *  or STALE_HANDLE (peer closed), and then also fires 'error'. Throws for unsupported data types. */
  send(data: string | ArrayBuffer | ArrayBufferView): Promise<number>;
  /** Queued messages go first; 'close' fires on both sides. */
  close(): Promise<void>;
}

/** A peer connection (a PEER_CONNECTION handle). Events: icecandidate, icegatheringstatechange,
 *  iceconnectionstatechange, dtlsstatechange, connectionstatechange, datachannel, track, error. */
export class Peer extends EventTarget {
  readonly handle: bigint;
  /** MEDIA_SESSION keyed by DTLS-SRTP: create sources (for addTrack) and streams (for remote tracks) on it. */
  readonly mediaSession: bigint;
  /** "sha-256 AB:CD:..." */
  readonly fingerprint: string;
  readonly localAddresses: string[];
  readonly connectionState: PeerConnectionStateName;
  readonly iceConnectionState: IceConnectionStateName;
  readonly iceGatheringState: 'new' | 'gathering' | 'complete';
  readonly dtlsState: DtlsStateName;
  readonly localDescription: SessionDescriptionInit | null;
  readonly remoteDescription: SessionDescriptionInit | null;
  /** Why the connection failed, if it did. */
  readonly error: string | null;
  /** True from close() on. */
  readonly isClosing: boolean;
  onicecandidate: ((e: IceCandidateEvent) => void) | null;
  onicegatheringstatechange: ((e: Event) => void) | null;
  oniceconnectionstatechange: ((e: Event) => void) | null;
  ondtlsstatechange: ((e: Event) => void) | null;
  onconnectionstatechange: ((e: Event) => void) | null;
  ondatachannel: ((e: DataChannelEvent) => void) | null;
  ontrack: ((e: TrackEvent) => void) | null;
  onerror: ((e: ErrorEventData) => void) | null;
  /** Not an Event: the datagrams to carry to the far end (data are views into the event batch). */
  ondatagrams: ((datagrams: PeerDatagram[]) => void) | null;
  /** Also applied as the local description. */
  createOffer(): Promise<SessionDescriptionInit>;
  /** INVALID_ARGUMENT without a remote offer. */
  createAnswer(): Promise<SessionDescriptionInit>;
  /** A no-op: createOffer / createAnswer already applied it. */
  setLocalDescription(description?: SessionDescriptionInit): Promise<void>;
  /** MALFORMED_PACKET for SDP that does not parse, PROTOCOL_ERROR for SDP that cannot be negotiated. */
  setRemoteDescription(description: SessionDescriptionInit): Promise<void>;
  /** null, undefined or an empty candidate: end of candidates. */
  addIceCandidate(candidate?: IceCandidateInit | string | null): Promise<void>;
  createDataChannel(label: string, init?: DataChannelInit): Promise<DataChannel>;
  /** An AUDIO_SOURCE / VIDEO_SOURCE on mediaSession; before createOffer / createAnswer. */
  addTrack(source: bigint, streamId?: string): Promise<{ mid: string }>;
  deliverDatagrams(datagrams: PeerDatagram[]): Promise<{ accepted: number; rejected: number }>;
  /** get_peer_stats: snake_case name -> value. */
  getStats(): Promise<Record<string, number>>;
  /** Sends the close (through ondatagrams), then drops the peer's channels, subscriptions, the peer and its
   *  media session. No events fire on this side afterwards. Idempotent. */
  close(): Promise<void>;
}

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
  /** get_media_stats of a session, source or stream, as a name -> number record. */
  getMediaStats(handle: bigint): Promise<MediaStats>;
  /** Joins a MEDIA_SESSION to `port` inside the worker: the session's datagrams are posted to the port (never
   *  to this thread) and batches arriving on it are delivered to the session. Hand the two ports of one
   *  MessageChannel to two cores' sessions to connect them worker to worker. The port is transferred.
   *  Rejects with NULL_HANDLE, UNKNOWN_HANDLE, STALE_HANDLE or WRONG_HANDLE_TYPE. */
  connectMediaPort(session: bigint, port: TransferablePort, options?: { queueCapacity?: number }): Promise<MediaPort>;
  /** A peer connection; rejects with INVALID_ARGUMENT for bad addresses (or none). */
  createPeer(options: PeerOptions): Promise<Peer>;
  /** The worker boundary alone (no core), for benchmarks. */
  echo(bytes: Uint8Array): Promise<Uint8Array>;
}
