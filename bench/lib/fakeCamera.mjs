// A stand-in for ffmpeg at the hardware edge, for the cameras benchmark (bench/cameras.ts): the
// controller spawns it as a camera scanner's ffmpegPath with ffmpeg's arguments. It reads its plan
// from the file given after -i (the scanner's url option), checks the frame size asked for (the
// last scale=WxH of -vf) and writes raw grey frames to stdout at the plan's frame rate, each on a
// fixed schedule (no drift, no catch-up burst: a slot that is missed is a frame the camera drops).
// For every marked segment (frames that hold a code) it appends one JSON line to the plan's log:
// the time it began writing the first frame of the segment, on the machine's monotonic clock
// (process.hrtime, shared by every process), so that the benchmark can measure from it. After the
// plan it repeats its first frame until it is killed, as a camera looking at an empty doorway.
import { appendFileSync, readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const fail = (message) => {
  process.stderr.write(`fake camera: ${message}\n`);
  process.exit(1);
};

const input = args[args.indexOf('-i') + 1];
if (args.indexOf('-i') === -1 || input === undefined) fail('no -i <plan.json>');
/** @type {{ width: number, height: number, fps: number, frames: string[], segments: Array<{ frames: number[], count: number, mark: string | null }>, log: string }} */
const plan = JSON.parse(readFileSync(input, 'utf8'));

const filters = args[args.indexOf('-vf') + 1] ?? '';
const scale = [...filters.matchAll(/scale=(\d+):(\d+)/g)].at(-1);
if (scale === undefined || Number(scale[1]) !== plan.width || Number(scale[2]) !== plan.height) {
  fail(`asked for frames of ${scale ? `${scale[1]}x${scale[2]}` : 'no size'}, the plan has ${plan.width}x${plan.height}`);
}
const frames = plan.frames.map((file) => readFileSync(file));
for (const frame of frames) if (frame.length !== plan.width * plan.height) fail(`a frame of ${frame.length} bytes is not ${plan.width}x${plan.height}`);

const now = () => Number(process.hrtime.bigint()) / 1e6;
const interval = 1000 / plan.fps;
const start = now() + 5;
let slot = 0;
let segment = 0;
let inSegment = 0;
let logged = -1;
let skipped = 0;

process.stdout.on('error', () => process.exit(0));

function tick() {
  // Slots whose time has passed by more than a frame interval are dropped, as a camera drops frames.
  const late = Math.floor((now() - (start + slot * interval)) / interval);
  for (let i = 0; i < late; i++) {
    advance();
    skipped++;
  }
  const current = plan.segments[segment];
  const frame = current === undefined ? frames[0] : frames[current.frames[inSegment % current.frames.length]];
  const scheduled = start + slot * interval;
  const buffered = process.stdout.writableLength;
  const writeStart = now();
  process.stdout.write(frame);
  const writeEnd = now();
  if (current !== undefined && current.mark !== null && logged !== segment) {
    logged = segment;
    appendFileSync(plan.log, JSON.stringify({ mark: current.mark, slot, frameInSegment: inSegment, writeStart, writeEnd, lateMs: writeStart - scheduled, bufferedBytes: buffered, skipped }) + '\n');
  }
  advance();
  setTimeout(tick, Math.max(0, start + slot * interval - now()));
}

function advance() {
  slot++;
  const current = plan.segments[segment];
  if (current === undefined) return;
  inSegment++;
  if (inSegment >= current.count) {
    segment++;
    inSegment = 0;
  }
}

setTimeout(tick, Math.max(0, start - now()));
