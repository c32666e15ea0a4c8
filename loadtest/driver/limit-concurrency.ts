// At most `inFlightMax` calls of an async function at once; the rest wait their turn in call order.
export function limitConcurrency<A extends unknown[], R>(fn: (...args: A) => Promise<R>, inFlightMax: number): (...args: A) => Promise<R> {
  let inFlight = 0;
  const waiting: (() => void)[] = [];
  return async (...args: A) => {
    // A finishing call hands its slot straight to the first waiter, so a newcomer cannot slip in between.
    if (inFlight >= inFlightMax) await new Promise<void>((resolve) => waiting.push(resolve));
    else inFlight += 1;
    try {
      return await fn(...args);
    } finally {
      const next = waiting.shift();
      if (next !== undefined) next();
      else inFlight -= 1;
    }
  };
}
