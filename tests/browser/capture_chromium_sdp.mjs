// Captures SDP that Debian's Chromium generates and checks that it accepts ours; rewrites
// tests/core/transport/sdp/chromium_sdp_fixtures.h with what it saw (C++ raw string literals, because the wasm
// tests cannot read files).
//
//   node tests/browser/capture_chromium_sdp.mjs
//     TANDEM_TESTS=<native tandem_tests>   default build/e2ee-native/tests/tandem_tests (builds our offer and
//                                          answers: the hidden "[.sdp_capture]" test case)
//     CHROMIUM=<path>                      default /usr/bin/chromium
//
// In one page (http://localhost/, a secure context, so getUserMedia works with the fake devices):
//   (a) an offer with a data channel and sendrecv audio + video transceivers, after ICE gathering completed
//   (b) a data-channel-only offer, after ICE gathering completed
//   (c) Chromium's answer to our create_offer output (with its fake tracks attached, so it sends too)
//   (d) whether Chromium's setRemoteDescription accepts our offer, our answer to (a), and our answer to an offer
//       like (a) with the audio section (the BUNDLE-tagged one) rejected.
// Exits non-zero if Chromium refuses one of ours. The results are printed and recorded in the header (unless it
// refused our offer: then there is no answer to record and the header is left as it was).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const fixturesPath = join(repo, 'tests/core/transport/sdp/chromium_sdp_fixtures.h');
const testsBinary = process.env.TANDEM_TESTS ?? join(repo, 'build/e2ee-native/tests/tandem_tests');
const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const kArgs = ['--headless', '--no-sandbox', '--disable-gpu', '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream'];

// Runs the hidden capture test case: our offer, and our answers to `remoteOffer` when given.
function tandemDescriptions(remoteOffer) {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-sdp-'));
  try {
    const env = { ...process.env, TANDEM_SDP_CAPTURE_DIR: dir };
    if (remoteOffer) {
      writeFileSync(join(dir, 'remote_offer.sdp'), remoteOffer);
      env.TANDEM_SDP_REMOTE_OFFER_FILE = join(dir, 'remote_offer.sdp');
    }
    execFileSync(testsBinary, ['[.sdp_capture]'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
    const read = (name) => readFileSync(join(dir, name), 'utf8');
    if (!remoteOffer) return { offer: read('tandem_offer.sdp') };
    return { offer: read('tandem_offer.sdp'), answer: read('tandem_answer.sdp'),
      noAudio: read('tandem_answer_no_audio.sdp') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function chromiumVersion() {
  try {
    return execFileSync(executablePath, ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch (e) {
    return `unknown (${e.message.split('\n')[0]})`;
  }
}

// Page-side helpers, installed once: offers after gathering, answers, and setRemoteDescription results.
const kPageHelpers = `
window.gathered = (pc) => new Promise((done) => {
  if (pc.iceGatheringState === 'complete') return done();
  const timer = setTimeout(done, 20000);
  pc.addEventListener('icegatheringstatechange', () => {
    if (pc.iceGatheringState === 'complete') { clearTimeout(timer); done(); }
  });
});
window.pcs = {};
window.fullOffer = async (name) => {
  const pc = new RTCPeerConnection();
  window.pcs[name] = pc;
  pc.createDataChannel('chat');
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
  pc.addTransceiver(stream.getAudioTracks()[0], { direction: 'sendrecv', streams: [stream] });
  pc.addTransceiver(stream.getVideoTracks()[0], { direction: 'sendrecv', streams: [stream] });
  await pc.setLocalDescription(await pc.createOffer());
  await window.gathered(pc);
  return pc.localDescription.sdp;
};
window.dataOffer = async () => {
  const pc = new RTCPeerConnection();
  window.pcs.data = pc;
  pc.createDataChannel('chat');
  await pc.setLocalDescription(await pc.createOffer());
  await window.gathered(pc);
  return pc.localDescription.sdp;
};
window.answerTo = async (sdp) => {
  const pc = new RTCPeerConnection();
  window.pcs.answerer = pc;
  try {
    await pc.setRemoteDescription({ type: 'offer', sdp });
  } catch (e) {
    return { accepted: false, error: String(e) };
  }
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
  for (const t of pc.getTransceivers()) {
    const track = stream.getTracks().find((k) => k.kind === t.receiver.track.kind);
    if (!track) continue;
    await t.sender.replaceTrack(track);
    t.sender.setStreams(stream);
    t.direction = 'sendrecv';
  }
  await pc.setLocalDescription(await pc.createAnswer());
  await window.gathered(pc);
  return { accepted: true, answer: pc.localDescription.sdp };
};
window.acceptAnswer = async (name, sdp) => {
  const pc = window.pcs[name];
  try {
    await pc.setRemoteDescription({ type: 'answer', sdp });
  } catch (e) {
    return { accepted: false, error: String(e) };
  }
  return { accepted: true, signalingState: pc.signalingState,
    transceivers: pc.getTransceivers().map((t) => \`\${t.mid}:\${t.currentDirection}\`).join(' ') };
};
`;

function cppLiteral(name, comment, sdp) {
  if (sdp.includes(')sdp"')) throw new Error(`${name} contains the raw string delimiter`);
  return `// ${comment}\ninline constexpr const char* ${name} = R"sdp(${sdp.replaceAll('\r\n', '\n')})sdp";\n`;
}

const failures = [];
const browser = await chromium.launch({ executablePath, args: kArgs });
let fixtures;
try {
  const page = await browser.newPage();
  await page.route('http://localhost/**', (route) => route.fulfill({
    status: 200, contentType: 'text/html', body: '<!doctype html><title>sdp capture</title>',
  }));
  await page.goto('http://localhost/');
  await page.addScriptTag({ content: kPageHelpers });
  const userAgent = await page.evaluate(() => navigator.userAgent);

  const offerAv = await page.evaluate(() => window.fullOffer('full'));                     // (a)
  const offerData = await page.evaluate(() => window.dataOffer());                         // (b)
  const ours = tandemDescriptions(offerAv);
  const answered = await page.evaluate((sdp) => window.answerTo(sdp), ours.offer);          // (c), (d) offer
  const acceptedAnswer = await page.evaluate((sdp) => window.acceptAnswer('full', sdp), ours.answer);
  const offerAv2 = await page.evaluate(() => window.fullOffer('full2'));
  const ours2 = tandemDescriptions(offerAv2);
  const acceptedNoAudio = await page.evaluate((sdp) => window.acceptAnswer('full2', sdp), ours2.noAudio);

  const report = (what, r) => {
    const state = r.transceivers ? ` (${r.signalingState}; mid:currentDirection ${r.transceivers})` : '';
    const text = r.accepted ? `accepted${state}` : `REJECTED: ${r.error}`;
    console.log(`${what}: ${text}`);
    if (!r.accepted) failures.push(what);
    return text;
  };
  const results = [
    ['setRemoteDescription(our offer)', answered],
    ['setRemoteDescription(our answer to (a))', acceptedAnswer],
    ['setRemoteDescription(our answer rejecting audio)', acceptedNoAudio],
  ].map(([what, r]) => `${what}: ${report(what, r)}`);
  if (!answered.accepted) throw new Error('Chromium did not accept our offer, so it gave no answer');

  const version = chromiumVersion();
  console.log(`chromium --version: ${version}`);
  fixtures = `// Generated by tests/browser/capture_chromium_sdp.mjs: do not edit; run it again instead.
// ${version}; navigator.userAgent: ${userAgent}
// Command: node tests/browser/capture_chromium_sdp.mjs (playwright-core, ${executablePath} ${kArgs.join(' ')})
// Captured ${new Date().toISOString().slice(0, 10)}. Chromium sent \\r\\n line endings; these literals have \\n.
// Candidates carry the capturing machine's interface addresses.
// What Chromium's setRemoteDescription said to the descriptions our code made (the kTandem* texts below):
//   ${results.join('\n//   ')}
#pragma once

namespace tandem::transport::sdp::chromium_fixtures {

${[
    ['kOfferAudioVideoData', '(a) createDataChannel + sendrecv audio and video transceivers, after ICE gathering',
      offerAv],
    ['kOfferDataOnly', '(b) createDataChannel only, after ICE gathering', offerData],
    ['kTandemOffer', 'create_offer(test::tandem_options()) as shown to Chromium', ours.offer],
    ['kAnswerToTandemOffer', '(c) Chromium\'s answer to kTandemOffer (its fake tracks attached), after gathering',
      answered.answer],
    ['kTandemAnswer', 'create_answer(kOfferAudioVideoData, test::tandem_options()) as given to Chromium',
      ours.answer],
    ['kOfferAudioVideoData2', 'a second offer like (a), answered by kTandemAnswerNoAudio', offerAv2],
    ['kTandemAnswerNoAudio', 'create_answer(kOfferAudioVideoData2, options without audio) as given to Chromium',
      ours2.noAudio],
  ].map(([name, comment, sdp]) => cppLiteral(name, comment, sdp)).join('\n')}
// Whether Chromium accepted each (recorded by the capture; a failure shows up in the tests as well).
inline constexpr bool kChromiumAcceptedTandemOffer = ${answered.accepted};
inline constexpr bool kChromiumAcceptedTandemAnswer = ${acceptedAnswer.accepted};
inline constexpr bool kChromiumAcceptedTandemAnswerNoAudio = ${acceptedNoAudio.accepted};

}  // namespace tandem::transport::sdp::chromium_fixtures
`;
} finally {
  await browser.close();
}
writeFileSync(fixturesPath, fixtures);
console.log(`wrote ${fixturesPath}`);
if (failures.length) {
  console.log(`not accepted: ${failures.join(', ')}`);
  process.exit(1);
}
