// The demo's media: a sender core and a receiver core joined by a MessageChannel "network" (each session's
// datagrams go worker to worker through Tandem.connectMediaPort), a synthetic tone and test pattern captured
// on a wall-clock schedule, and the receiver's frames turned into pixels and a level meter.

export const kAudio = { sampleRate: 48000, frameMs: 20, samplesPerFrame: 960, toneHz: 440 };
export const kVideo = { width: 320, height: 240, fps: 30 };
// Capture requests waiting for the sender's worker beyond which the page stops queueing more (it catches up
// on the next tick, or skips and counts, see #tick).
const kMaxAudioInFlight = 10;
const kMaxAudioBacklogFrames = 50;  // 1 s: beyond this (page throttled, e.g. hidden) frames are skipped

const randomBytes = (n) => crypto.getRandomValues(new Uint8Array(n));

// ---- Synthetic sources

// 440 Hz with a slow tremolo (0.5 Hz, 0.2..1.0 x 8000), so the meter moves; s16le mono at 48 kHz.
export class Tone {
  #phase = 0;
  #pcm = new Int16Array(kAudio.samplesPerFrame);

  next() {
    for (let i = 0; i < this.#pcm.length; ++i, ++this.#phase) {
      const t = this.#phase / kAudio.sampleRate;
      const gain = 0.6 + 0.4 * Math.sin(2 * Math.PI * 0.5 * t);
      this.#pcm[i] = Math.round(8000 * gain * Math.sin(2 * Math.PI * kAudio.toneHz * t));
    }
    return new Uint8Array(this.#pcm.buffer);  // encoded (copied) by the request at once, so reuse is safe
  }
}

// BT.601 studio-range colour bars (white, yellow, cyan, green, magenta, red, blue, black) as Y, U, V.
const kBars = [[235, 128, 128], [210, 16, 146], [170, 166, 16], [145, 54, 34], [106, 202, 222], [81, 90, 240],
  [41, 240, 110], [16, 128, 128]];

// Colour bars over the top two thirds, a scrolling luma ramp below, a bouncing box, and the frame number in
// binary along the bottom: I420, planes packed.
export class TestPattern {
  #w;
  #h;
  #static;
  #frame;

  constructor(width = kVideo.width, height = kVideo.height) {
    this.#w = width;
    this.#h = height;
    this.#static = new Uint8Array(width * height + 2 * ((width + 1) >> 1) * ((height + 1) >> 1));
    this.#frame = new Uint8Array(this.#static.length);
    const cw = (width + 1) >> 1;
    const ch = (height + 1) >> 1;
    const barsHeight = Math.floor((height * 2) / 3);
    for (let y = 0; y < height; ++y) {
      for (let x = 0; x < width; ++x) {
        const bar = kBars[Math.floor((x * kBars.length) / width)];
        this.#static[y * width + x] = y < barsHeight ? bar[0] : 16;
      }
    }
    for (let y = 0; y < ch; ++y) {
      for (let x = 0; x < cw; ++x) {
        const bar = kBars[Math.floor((2 * x * kBars.length) / width)];
        const inBars = 2 * y < barsHeight;
        this.#static[width * height + y * cw + x] = inBars ? bar[1] : 128;
        this.#static[width * height + cw * ch + y * cw + x] = inBars ? bar[2] : 128;
      }
    }
  }

  frame(n) {
    const w = this.#w;
    const h = this.#h;
    const out = this.#frame;
    out.set(this.#static);
    const rampTop = Math.floor((h * 2) / 3);
    const rampBottom = h - 12;
    for (let y = rampTop; y < rampBottom; ++y) {
      for (let x = 0; x < w; ++x) out[y * w + x] = 16 + ((2 * x + 4 * n) % 220);
    }
    // The box bounces across the whole picture (luma only: a light square with a dark rim).
    const size = 40;
    const bx = triangle(n * 5, w - size);
    const by = triangle(n * 3, h - size);
    for (let y = by; y < by + size; ++y) {
      for (let x = bx; x < bx + size; ++x) {
        const rim = x < bx + 4 || x >= bx + size - 4 || y < by + 4 || y >= by + size - 4;
        out[y * w + x] = rim ? 16 : 235;
      }
    }
    // The frame number, 16 bits, one 20-pixel cell per bit (white = 1).
    for (let bit = 0; bit < 16; ++bit) {
      const on = (n >> (15 - bit)) & 1;
      for (let y = h - 10; y < h; ++y) out.fill(on ? 235 : 40, y * w + bit * 20 + 1, y * w + bit * 20 + 19);
    }
    return out;  // reused next frame: the request encodes (copies) it at once
  }
}

function triangle(t, span) {
  const p = t % (2 * span);
  return p < span ? p : 2 * span - p;
}

// ---- Receiver-side rendering

// I420 (packed planes) to RGBA, BT.601 studio range, integer math; `out` is an ImageData's data.
export function i420ToRgba(i420, w, h, out) {
  const cw = (w + 1) >> 1;
  const uBase = w * h;
  const vBase = uBase + cw * ((h + 1) >> 1);
  for (let y = 0; y < h; ++y) {
    const row = y * w;
    const chromaRow = (y >> 1) * cw;
    for (let x = 0; x < w; ++x) {
      const c = 298 * (i420[row + x] - 16);
      const d = i420[uBase + chromaRow + (x >> 1)] - 128;
      const e = i420[vBase + chromaRow + (x >> 1)] - 128;
      const o = 4 * (row + x);
      out[o] = (c + 409 * e + 128) >> 8;  // Uint8ClampedArray clamps to 0..255
      out[o + 1] = (c - 100 * d - 208 * e + 128) >> 8;
      out[o + 2] = (c + 516 * d + 128) >> 8;
      out[o + 3] = 255;
    }
  }
}

// s16le bytes as samples: a view when aligned, else a copy (event bytes sit at any offset of their batch).
export function samplesOf(pcm) {
  if (pcm.byteOffset % 2 === 0) return new Int16Array(pcm.buffer, pcm.byteOffset, pcm.byteLength >> 1);
  return new Int16Array(pcm.slice().buffer, 0, pcm.byteLength >> 1);
}

// RMS of samples in dBFS (full scale = 32768); -Infinity for silence.
export function rmsDbfs(samples) {
  let energy = 0;
  for (let i = 0; i < samples.length; ++i) energy += samples[i] * samples[i];
  return 10 * Math.log10(energy / samples.length / (32768 * 32768));
}

// ---- The two cores and the channel between them

// Everything media on both cores. Sessions and the channel live as long as the page; sources and streams
// are rebuilt when E2EE is switched (a new key needs a new source and stream on each side).
export class MediaLink {
  #tx;
  #rx;
  #onAudio;
  #onVideo;
  #e2eeKey = randomBytes(16);
  #objects = null;   // {audioSource, audioStream, videoSource, videoStream, audioSub, videoSub, e2ee, generation}
  #generation = 0;
  #timer = null;
  #tone = new Tone();
  #pattern = new TestPattern();
  #clock = null;     // {start, audio, video}: capture schedule of the current objects
  #inFlight = { audio: 0, video: 0 };
  #impairment = { wanted: null, applying: false };

  constructor(sender, receiver, { onAudioFrame, onVideoFrame, onError }) {
    this.#tx = sender;
    this.#rx = receiver;
    this.#onAudio = onAudioFrame;
    this.#onVideo = onVideoFrame;
    this.onError = onError;
    this.captured = { audio: 0, video: 0, audioSkipped: 0, videoSkipped: 0 };
    this.sessions = null;  // {tx, rx}
    this.ports = null;     // {tx, rx}: the MediaPort of each side
  }

  // Mirrored SRTP keys: what one session sends with, the other verifies with.
  async start() {
    const [a, b] = [{ key: randomBytes(16), salt: randomBytes(14) }, { key: randomBytes(16), salt: randomBytes(14) }];
    const create = async (tandem, local, remote, cname) => (await tandem.call({
      createMediaSession: {
        localKey: local.key, localSalt: local.salt, remoteKey: remote.key, remoteSalt: remote.salt, cname,
        rtcpIntervalMs: 500,
      },
    })).createMediaSession.session;
    this.sessions = { tx: await create(this.#tx, a, b, 'sender'), rx: await create(this.#rx, b, a, 'receiver') };
    // The network: port1 belongs to the sender's worker, port2 to the receiver's, from here on.
    const channel = new MessageChannel();
    this.ports = {
      tx: await this.#tx.connectMediaPort(this.sessions.tx, channel.port1),
      rx: await this.#rx.connectMediaPort(this.sessions.rx, channel.port2),
    };
    this.#rx.onEvent((e) => {
      const o = this.#objects;
      if (o === null) return;
      if (e.subscription === o.videoSub) this.#onVideo(e);
      else if (e.subscription === o.audioSub) this.#onAudio(e);
    });
    await this.build({ e2ee: false });
    this.#timer = setInterval(() => this.#tick(), 10);
  }

  get e2ee() { return this.#objects?.e2ee ?? false; }
  get handles() { return this.#objects; }

  // (Re)creates the sources and streams; with e2ee, both sides configure the same key.
  async build({ e2ee }) {
    const old = this.#objects;
    this.#objects = null;  // captures stop, events of the old streams are ignored
    if (old !== null) {
      for (const h of [old.audioSub, old.videoSub, old.audioStream, old.videoStream]) await this.#rx.dropHandle(h);
      for (const h of [old.audioSource, old.videoSource]) await this.#tx.dropHandle(h);
    }
    const keys = e2ee ? { e2ee: { key: this.#e2eeKey } } : {};
    const { tx, rx } = this.sessions;
    const audio = (await this.#tx.call({
      createAudioSource: { session: tx, codec: 'OPUS', channels: 1, frameMs: kAudio.frameMs, ...keys },
    })).createAudioSource;
    const video = (await this.#tx.call({
      createVideoSource: { session: tx, bitrateKbps: 600, framerate: kVideo.fps, ...keys },
    })).createVideoSource;
    const audioStream = (await this.#rx.call({
      createAudioStream: { session: rx, codec: 'OPUS', remoteSsrc: audio.ssrc, frameMs: kAudio.frameMs, ...keys },
    })).createAudioStream.stream;
    const videoStream = (await this.#rx.call({
      createVideoStream: { session: rx, remoteSsrc: video.ssrc, ...keys },
    })).createVideoStream.stream;
    const audioSub = await this.#rx.subscribe(['AUDIO_FRAME'], { key: audioStream, queueCapacity: 256 });
    const videoSub = await this.#rx.subscribe(['VIDEO_FRAME'], { key: videoStream, queueCapacity: 32 });
    this.#generation += 1;
    this.#clock = { start: performance.now(), audio: 0, video: 0 };
    this.#objects = {
      audioSource: audio.source, videoSource: video.source, audioStream, videoStream, audioSub, videoSub, e2ee,
      generation: this.#generation,
    };
  }

  // Both sessions impair what they send (media one way, RTCP the other). Rapid slider moves coalesce: one
  // request pair in flight, the latest setting applied next.
  setImpairment({ lossPercent, jitterMs }) {
    this.#impairment.wanted = { loss: lossPercent / 100, jitterMs };
    if (!this.#impairment.applying) this.#applyImpairment().catch((e) => this.onError(e));
  }

  async #applyImpairment() {
    this.#impairment.applying = true;
    try {
      while (this.#impairment.wanted !== null) {
        const impairment = this.#impairment.wanted;
        this.#impairment.wanted = null;
        await Promise.all([
          this.#tx.call({ setImpairment: { session: this.sessions.tx, impairment } }),
          this.#rx.call({ setImpairment: { session: this.sessions.rx, impairment } }),
        ]);
        this.appliedImpairment = impairment;
      }
    } finally {
      this.#impairment.applying = false;
    }
  }

  // Capture on a wall-clock schedule: audio frame k is due at start + 20 k ms (each one advances the RTP
  // clock by 20 ms, so sending fewer or more than wall time allows would misstate time); video takes the
  // newest due picture and skips the ones it is late for (its RTP clock is the capture time).
  #tick() {
    const o = this.#objects;
    if (o === null) return;
    const now = performance.now() - this.#clock.start;
    const audioDue = Math.floor(now / kAudio.frameMs) + 1;
    if (audioDue - this.#clock.audio > kMaxAudioBacklogFrames) {
      // The page was throttled (hidden tab, long task): give up on the missed time rather than burst it.
      this.captured.audioSkipped += audioDue - 1 - this.#clock.audio;
      this.#clock.audio = audioDue - 1;
    }
    while (this.#clock.audio < audioDue && this.#inFlight.audio < kMaxAudioInFlight) {
      this.#clock.audio += 1;
      this.#capture('audio', { captureAudioFrame: { source: o.audioSource, pcm: this.#tone.next() } }, o);
    }
    const videoDue = Math.floor((now * kVideo.fps) / 1000) + 1;
    if (videoDue > this.#clock.video && this.#inFlight.video === 0) {
      this.captured.videoSkipped += videoDue - this.#clock.video - 1;
      this.#clock.video = videoDue;
      const picture = this.#pattern.frame(videoDue);
      this.#capture('video', {
        captureVideoFrame: { source: o.videoSource, width: kVideo.width, height: kVideo.height, i420: picture },
      }, o);
    }
  }

  #capture(kind, request, objects) {
    this.#inFlight[kind] += 1;
    this.#tx.call(request).then(() => {
      this.captured[kind] += 1;
    }, (e) => {
      if (objects.generation === this.#objects?.generation) this.onError(e);  // else: rebuilt meanwhile
    }).finally(() => {
      this.#inFlight[kind] -= 1;
    });
  }

  // get_media_stats of every object (plain {name: number} each), plus the ports' own counters.
  async stats() {
    const o = this.#objects;
    if (o === null) return null;
    const get = async (tandem, handle) => (await tandem.getMediaStats(handle)).stats;
    try {
      const [sessionTx, sessionRx, audioSource, videoSource, audioStream, videoStream, portTx, portRx] =
        await Promise.all([
          get(this.#tx, this.sessions.tx), get(this.#rx, this.sessions.rx), get(this.#tx, o.audioSource),
          get(this.#tx, o.videoSource), get(this.#rx, o.audioStream), get(this.#rx, o.videoStream),
          this.ports.tx.stats(), this.ports.rx.stats(),
        ]);
      return { sessionTx, sessionRx, audioSource, videoSource, audioStream, videoStream, portTx, portRx };
    } catch (e) {
      if (o.generation !== this.#objects?.generation) return null;  // rebuilt while we asked: stale handles
      throw e;
    }
  }

  stop() {
    clearInterval(this.#timer);
    this.#objects = null;
  }
}
