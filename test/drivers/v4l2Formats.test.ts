/**
 * What a V4L2 camera lists and what is asked of it: ffmpeg's `-list_formats all` output of real
 * cameras (discrete sizes, stepwise ranges, old ffmpeg's short labels, formats ffmpeg cannot name,
 * and a device that lists nothing), parsed, and the format and size chosen from it. The probe
 * itself runs against a stand-in ffmpeg that prints a listing and exits 1, as ffmpeg does.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chooseV4l2Format, nearestSize, parseV4l2Formats, probeV4l2Formats, v4l2ProbeArguments } from '../../drivers/scanners/camera/v4l2Formats.ts';
import { tempDir } from '../support/testSite.ts';

/** A Logitech C920 (UVC) on ffmpeg 5: YUYV, H.264 and MJPEG, each at discrete sizes. */
const C920 = `[video4linux2,v4l2 @ 0x55f1c2a3e8c0] Raw       :     yuyv422 :           YUYV 4:2:2 : 640x480 160x90 160x120 176x144 320x180 320x240 352x288 432x240 640x360 800x448 800x600 864x480 960x720 1024x576 1280x720 1600x896 1920x1080 2304x1296 2304x1536
[video4linux2,v4l2 @ 0x55f1c2a3e8c0] Compressed:        h264 :                H.264 : 640x480 160x90 160x120 176x144 320x180 320x240 352x288 432x240 640x360 800x448 800x600 864x480 960x720 1024x576 1280x720 1600x896 1920x1080
[video4linux2,v4l2 @ 0x55f1c2a3e8c0] Compressed:       mjpeg :          Motion-JPEG : 640x480 160x90 160x120 176x144 320x180 320x240 352x288 432x240 640x360 800x448 800x600 864x480 960x720 1024x576 1280x720 1600x896 1920x1080
/dev/video0: Immediate exit requested
`;

/** A Raspberry Pi camera (bcm2835-v4l2): every format at any even size in a range. */
const PI_CAMERA = `[video4linux2,v4l2 @ 0x1d4e4b0] Raw       :     yuv420p :     Planar YUV 4:2:0 : {32-2592, 2}x{32-1944, 2}
[video4linux2,v4l2 @ 0x1d4e4b0] Raw       :     yuyv422 :           YUYV 4:2:2 : {32-2592, 2}x{32-1944, 2}
[video4linux2,v4l2 @ 0x1d4e4b0] Raw       :       rgb24 :     24-bit RGB 8-8-8 : {32-2592, 2}x{32-1944, 2}
[video4linux2,v4l2 @ 0x1d4e4b0] Compressed:       mjpeg :            JFIF JPEG : {32-2592, 2}x{32-1944, 2}
[video4linux2,v4l2 @ 0x1d4e4b0] Compressed:        h264 :                H.264 : {32-2592, 2}x{32-1944, 2}
[video4linux2,v4l2 @ 0x1d4e4b0] Compressed:       mjpeg :          Motion-JPEG : {32-2592, 2}x{32-1944, 2}
[video4linux2,v4l2 @ 0x1d4e4b0] Raw       : Unsupported :      Y/CbCr 4:2:0 (128b cols) : {32-2592, 2}x{32-1944, 2}
/dev/video0: Immediate exit requested
`;

/** A cheap USB camera: YUYV only, at small sizes, then MJPEG only at big ones. */
const CHEAP = `[video4linux2,v4l2 @ 0x5623b1f0] Raw       :     yuyv422 :           YUYV 4:2:2 : 640x480 352x288 320x240 176x144 160x120
[video4linux2,v4l2 @ 0x5623b1f0] Compressed:       mjpeg :          Motion-JPEG : 1280x720 1920x1080
/dev/video2: Immediate exit requested
`;

/** A capture card through libv4l2, in old ffmpeg's short labels: a range without steps, and emulated formats. */
const OLD_FFMPEG_RANGE = `[video4linux2,v4l2 @ 0x160f8c0] R :     yuyv422 :           YUYV 4:2:2 : {48-1920}x{32-1080}
[video4linux2,v4l2 @ 0x160f8c0] R :       rgb24 :            RGB3 : Emulated : {48-1920}x{32-1080}
[video4linux2,v4l2 @ 0x160f8c0] C : Unsupported :                H.264 : 640x480
/dev/video0: Immediate exit requested
`;

/** A UVC camera's metadata node (/dev/video1 beside /dev/video0): no video formats at all. */
const METADATA_NODE = `[video4linux2,v4l2 @ 0x55d0c7e1a940] ioctl(VIDIOC_G_INPUT): Inappropriate ioctl for device
/dev/video1: Inappropriate ioctl for device
`;

/** Nothing at that path. */
const MISSING = `/dev/video9: No such file or directory
`;

const VGA = { width: 640, height: 480 };

describe('parsing ffmpeg\'s V4L2 format listing', () => {
  it('reads discrete sizes per format, raw and compressed', () => {
    const formats = parseV4l2Formats(C920);
    expect(formats.map((f) => [f.compressed, f.name, f.description])).toEqual([
      [false, 'yuyv422', 'YUYV 4:2:2'],
      [true, 'h264', 'H.264'],
      [true, 'mjpeg', 'Motion-JPEG'],
    ]);
    expect(formats[0]!.sizes).toHaveLength(19);
    expect(formats[0]!.sizes[0]).toEqual({ width: 640, height: 480 });
    expect(formats[0]!.sizes.at(-1)).toEqual({ width: 2304, height: 1536 });
    expect(formats[2]!.sizes).toContainEqual({ width: 1280, height: 720 });
    expect(formats.every((f) => !f.emulated)).toBe(true);
  });

  it('reads stepwise ranges, and names ffmpeg cannot give as null', () => {
    const formats = parseV4l2Formats(PI_CAMERA);
    expect(formats.map((f) => f.name)).toEqual(['yuv420p', 'yuyv422', 'rgb24', 'mjpeg', 'h264', 'mjpeg', null]);
    expect(formats[1]!.sizes).toEqual([{ minWidth: 32, maxWidth: 2592, stepWidth: 2, minHeight: 32, maxHeight: 1944, stepHeight: 2 }]);
    expect(formats[6]!.description).toBe('Y/CbCr 4:2:0 (128b cols)');
  });

  it('reads old ffmpeg\'s short labels, ranges without a step and emulated formats', () => {
    const formats = parseV4l2Formats(OLD_FFMPEG_RANGE);
    expect(formats.map((f) => [f.compressed, f.name, f.emulated])).toEqual([
      [false, 'yuyv422', false],
      [false, 'rgb24', true],
      [true, null, false],
    ]);
    expect(formats[0]!.sizes).toEqual([{ minWidth: 48, maxWidth: 1920, stepWidth: 1, minHeight: 32, maxHeight: 1080, stepHeight: 1 }]);
  });

  it('finds nothing where the device lists nothing', () => {
    expect(parseV4l2Formats(METADATA_NODE)).toEqual([]);
    expect(parseV4l2Formats(MISSING)).toEqual([]);
    expect(parseV4l2Formats('')).toEqual([]);
  });
});

describe('choosing what to ask of the camera', () => {
  it('takes MJPEG at the asked size when the camera has it', () => {
    expect(chooseV4l2Format(parseV4l2Formats(C920), VGA)).toEqual({ inputFormat: 'mjpeg', width: 640, height: 480 });
    expect(chooseV4l2Format(parseV4l2Formats(C920), { width: 1920, height: 1080 })).toEqual({ inputFormat: 'mjpeg', width: 1920, height: 1080 });
  });

  it('takes YUYV at the asked size over MJPEG at another size', () => {
    expect(chooseV4l2Format(parseV4l2Formats(CHEAP), VGA)).toEqual({ inputFormat: 'yuyv422', width: 640, height: 480 });
    expect(chooseV4l2Format(parseV4l2Formats(CHEAP), { width: 1280, height: 720 })).toEqual({ inputFormat: 'mjpeg', width: 1280, height: 720 });
  });

  it('asks for the listed size nearest an unlisted one', () => {
    // 1024x768 is not listed: 960x720 is off by 7% each way, 1024x576 by a third in height.
    expect(chooseV4l2Format(parseV4l2Formats(C920), { width: 1024, height: 768 })).toEqual({ inputFormat: 'mjpeg', width: 960, height: 720 });
    // 800x480: the cheap camera's 640x480 is nearer than MJPEG's 1280x720.
    expect(chooseV4l2Format(parseV4l2Formats(CHEAP), { width: 800, height: 480 })).toEqual({ inputFormat: 'yuyv422', width: 640, height: 480 });
    expect(nearestSize([{ width: 320, height: 240 }, { width: 800, height: 600 }], VGA)).toEqual({ width: 800, height: 600 });
  });

  it('asks a stepwise camera for the asked size, on its steps and in its range', () => {
    expect(chooseV4l2Format(parseV4l2Formats(PI_CAMERA), VGA)).toEqual({ inputFormat: 'mjpeg', width: 640, height: 480 });
    expect(chooseV4l2Format(parseV4l2Formats(PI_CAMERA), { width: 1001, height: 751 })).toMatchObject({ inputFormat: 'mjpeg', width: 1002, height: 752 });
    expect(chooseV4l2Format(parseV4l2Formats(PI_CAMERA), { width: 3840, height: 2160 })).toEqual({ inputFormat: 'mjpeg', width: 2592, height: 1944 });
    expect(chooseV4l2Format(parseV4l2Formats(OLD_FFMPEG_RANGE), { width: 16, height: 16 })).toEqual({ inputFormat: 'yuyv422', width: 48, height: 32 });
  });

  it('prefers a raw format to H.264, a real one to an emulated one, and skips formats ffmpeg cannot name', () => {
    const h264AndRgb = parseV4l2Formats(`Compressed:        h264 :                H.264 : 640x480
Raw       :       rgb24 :     24-bit RGB 8-8-8 : 640x480`);
    expect(chooseV4l2Format(h264AndRgb, VGA)).toEqual({ inputFormat: 'rgb24', width: 640, height: 480 });
    expect(chooseV4l2Format(parseV4l2Formats(OLD_FFMPEG_RANGE), VGA)).toEqual({ inputFormat: 'yuyv422', width: 640, height: 480 });
    expect(chooseV4l2Format(parseV4l2Formats('Raw       : Unsupported :    Some Bayer : 640x480'), VGA)).toBeNull();
  });

  it('keeps to a format set in the site file, and says so when the camera lacks it', () => {
    expect(chooseV4l2Format(parseV4l2Formats(C920), VGA, 'yuyv422')).toEqual({ inputFormat: 'yuyv422', width: 640, height: 480 });
    expect(chooseV4l2Format(parseV4l2Formats(CHEAP), VGA, 'mjpeg')).toEqual({ inputFormat: 'mjpeg', width: 1280, height: 720 });
    expect(chooseV4l2Format(parseV4l2Formats(OLD_FFMPEG_RANGE), VGA, 'mjpeg')).toBe('the camera does not offer mjpeg (it offers yuyv422, rgb24): set inputFormat to auto');
  });

  it('leaves the choice to the driver when the device lists nothing', () => {
    expect(chooseV4l2Format(parseV4l2Formats(METADATA_NODE), VGA)).toBeNull();
    expect(chooseV4l2Format(parseV4l2Formats(MISSING), VGA, 'mjpeg')).toBeNull();
  });
});

describe('probing a camera through ffmpeg', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await tempDir('postern-v4l2-');
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** A stand-in ffmpeg: records its arguments, prints `listing` on stderr and exits 1, as ffmpeg does after listing. */
  async function fakeFfmpeg(name: string, listing: string): Promise<{ program: string; argsFile: string }> {
    const listingFile = path.join(dir, `${name}.txt`);
    const argsFile = path.join(dir, `${name}.args`);
    await writeFile(listingFile, listing);
    const program = path.join(dir, name);
    await writeFile(program, `#!/bin/sh\nprintf '%s\\n' "$@" > '${argsFile}'\ncat '${listingFile}' >&2\nexit 1\n`, { mode: 0o755 });
    return { program, argsFile };
  }

  it('asks ffmpeg to list every format of the device', () => {
    expect(v4l2ProbeArguments('/dev/video0')).toEqual(['-hide_banner', '-nostdin', '-f', 'v4l2', '-list_formats', 'all', '-i', '/dev/video0']);
  });

  it('reads the listing from stderr although ffmpeg exits with an error', async () => {
    const { program, argsFile } = await fakeFfmpeg('c920', C920);
    const probe = await probeV4l2Formats(program, '/dev/video0', 5000);
    expect(probe.formats.map((f) => f.name)).toEqual(['yuyv422', 'h264', 'mjpeg']);
    expect(await readFile(argsFile, 'utf8')).toBe(`${v4l2ProbeArguments('/dev/video0').join('\n')}\n`);
  });

  it('gives ffmpeg\'s words when the device lists nothing', async () => {
    const { program } = await fakeFfmpeg('missing', MISSING);
    const probe = await probeV4l2Formats(program, '/dev/video9', 5000);
    expect(probe.formats).toEqual([]);
    expect(probe.output).toContain('No such file or directory');
  });

  it('fails when there is no ffmpeg to run', async () => {
    await expect(probeV4l2Formats(path.join(dir, 'no-ffmpeg'), '/dev/video0', 5000)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
