/**
 * How a long-running command (`postern start`, `postern hub serve`) takes SIGINT and SIGTERM.
 * Listening starts before the service starts, so a stop is never lost: one asked for while it
 * starts (systemd's stop right after its start, a Ctrl+C while the store opens) is carried out as
 * soon as it has started, and it never dies of the signal halfway through. A second signal quits
 * at once, as the signal would without a handler, so a start or a stop that hangs can be cut short.
 */
export interface StopSignal {
  /** The first SIGINT or SIGTERM. */
  readonly asked: Promise<NodeJS.Signals>;
  /** Call once the service has started: a stop asked for after this needs no explanation. */
  started(): void;
}

export function listenForStop(signals: NodeJS.EventEmitter, say: (line: string) => void, service: string): StopSignal {
  let started = false;
  let asked = false;
  const first = new Promise<NodeJS.Signals>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      if (!asked) {
        asked = true;
        if (!started) say(`${signal}: stopping as soon as the ${service} has started (${signal} again quits at once)`);
        resolve(signal);
        return;
      }
      signals.off('SIGINT', onSignal);
      signals.off('SIGTERM', onSignal);
      process.kill(process.pid, signal);
    };
    signals.on('SIGINT', onSignal);
    signals.on('SIGTERM', onSignal);
  });
  return { asked: first, started: () => (started = true) };
}
