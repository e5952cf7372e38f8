/**
 * Problems the store finds outside any call (a damaged file found by the background check, the
 * writer thread gone, the controller claim lost): each is logged once here and handed to every
 * listener of Store.onProblem, so the controller can count it in a metric.
 */
import type { PosternError } from '../../machines/shared/errors.ts';
import type { StoreLogger } from './storeBackend.ts';
import type { StoreProblem, StoreProblemKind } from './storeTypes.ts';

export class StoreProblems {
  readonly #listeners = new Set<(problem: StoreProblem) => void>();
  readonly #logger: StoreLogger | undefined;
  readonly #location: string;

  constructor(location: string, logger: StoreLogger | undefined) {
    this.#location = location;
    this.#logger = logger;
  }

  on(listener: (problem: StoreProblem) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  report(kind: StoreProblemKind, error: PosternError): void {
    const log = this.#logger?.error ?? this.#logger?.warn;
    log?.call(this.#logger, { problem: kind, code: error.code, location: this.#location, err: error }, error.message);
    for (const listener of [...this.#listeners]) {
      try {
        listener({ kind, error });
      } catch {
        // A listener's failure is its own; the next listener still hears the problem.
      }
    }
  }
}
