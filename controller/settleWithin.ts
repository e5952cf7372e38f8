/**
 * `work`'s outcome, or `fallback` when it has not settled within `ms`: for the reads that must not
 * hold up their caller (a door waiting on a confirmation, a load balancer's health check). The work
 * itself goes on; its late value is dropped. A rejection within `ms` is passed on. The timer is
 * cleared either way, so nothing is left pending.
 */
export async function settleWithin<T, F>(work: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<F>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}
