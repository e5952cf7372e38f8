/**
 * One plain state object that components watch: `update(patch)` changes it and a hook re-renders
 * the components that use it. Changes are batched: listeners are told once per microtask, whatever
 * the number of updates. The operator page (store.js) and the hub page (hub/hubConnection.js) each
 * keep their state in one.
 */
import { useLayoutEffect, useState } from 'preact/hooks';

export function observable(target) {
  const listeners = new Set();
  let pending = false;
  /** Counts updates, so that a component can tell it rendered an older state. */
  let version = 0;

  function update(patch) {
    Object.assign(target, patch);
    version++;
    if (pending) return;
    pending = true;
    queueMicrotask(() => {
      pending = false;
      for (const listener of [...listeners]) listener();
    });
  }

  /**
   * Re-renders the calling component on every change. It subscribes in a layout effect, right
   * after its first render rather than after the browser paints (which a page in the background
   * may never do), and catches up on a change made before it subscribed: the first answer of the
   * server could otherwise be lost, leaving the page on its loading line.
   */
  function useObserved() {
    const [, setSeen] = useState(version);
    useLayoutEffect(() => {
      const listener = () => setSeen(version);
      listeners.add(listener);
      listener();
      return () => listeners.delete(listener);
    }, []);
    return target;
  }

  return { update, useObserved };
}
