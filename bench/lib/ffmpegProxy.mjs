// Runs the real ffmpeg with the arguments it is given and passes its frames through, for the
// cameras benchmark's real-ffmpeg check (bench/cameras.ts). It counts the raw frames going by and,
// for the first frame of each showing of the code in a looped test video, appends one JSON line to
// POSTERN_BENCH_MARK_LOG with the moment that frame had fully come out of ffmpeg and been passed
// on, on the machine's monotonic clock (process.hrtime, shared by every process).
import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';

const env = process.env;
const frameBytes = Number(env.POSTERN_BENCH_FRAME_BYTES);
const loopFrames = Number(env.POSTERN_BENCH_LOOP_FRAMES);
const firstCodeFrame = Number(env.POSTERN_BENCH_FIRST_CODE_FRAME);
const log = env.POSTERN_BENCH_MARK_LOG;
const now = () => Number(process.hrtime.bigint()) / 1e6;

const child = spawn(env.POSTERN_BENCH_FFMPEG ?? 'ffmpeg', process.argv.slice(2), { stdio: ['ignore', 'pipe', 'inherit'] });
let bytes = 0;
child.stdout.on('data', (chunk) => {
  const before = bytes;
  bytes += chunk.length;
  process.stdout.write(chunk);
  // Frames completed by this chunk.
  for (let frame = Math.floor(before / frameBytes); frame < Math.floor(bytes / frameBytes); frame++) {
    if (frame % loopFrames === firstCodeFrame) {
      const at = now();
      appendFileSync(log, JSON.stringify({ mark: `frame ${frame}`, slot: frame, frameInSegment: 0, writeStart: at, writeEnd: at, lateMs: 0, bufferedBytes: 0, skipped: 0 }) + '\n');
    }
  }
});
child.on('exit', (code, signal) => process.exit(signal === null ? (code ?? 1) : 1));
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => child.kill('SIGKILL'));
process.stdout.on('error', () => child.kill('SIGKILL'));
