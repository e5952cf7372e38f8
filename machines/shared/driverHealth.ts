// What a scanner driver says of itself; the scanner actor keeps the latest report in its context.
/** A driver's own measures; every field is optional because drivers measure different things. */
export interface DriverHealth {
  /** Frames taken from the device per second, over the last report period. */
  framesPerSecond?: number;
  /** Mean time to decode one frame in the last period, in milliseconds. */
  decodeMs?: number;
  /** Frames since connecting, decoded or not. */
  frames?: number;
  /** Frames a newer frame replaced before decoding, since connecting. */
  droppedFrames?: number;
  /** Frames that were no image of the expected size, since connecting. */
  badFrames?: number;
  /** The latest problem the driver got over by itself (a bad frame, a dropped partial read). */
  warning?: string | null;
}
