import { ExchangeUnavailableError } from '../errors.js';
import { utcClock } from '../../kernel/utc.js';

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  /** consecutive failed operations that open the circuit */
  failures: number;
  /** how long it stays open before one trial operation */
  cooldownMs: number;
}

const hms = (t: number): string => `${utcClock(t)} UTC`;

/**
 * One exchange's circuit breaker. What counts: an *operation* (one ccxt call, after its own
 * retries) that failed with a retryable error — network, timeout, rate limit, exchange
 * unavailable. Single attempts that a retry rescued do not count, so one flaky request never
 * opens the circuit; `failures` operations in a row that each outlived their retries do.
 * Answers that prove the exchange is up but refuse the request (bad symbol, bad parameter,
 * malformed data) neither count nor reset the count.
 *
 * closed → (failures in a row) → open: every call is refused at once, without a request,
 * until `cooldownMs` has passed → half-open: exactly one trial operation goes through (others
 * are refused meanwhile); success closes the circuit, a retryable failure opens it again for
 * another cooldown, and a neutral outcome (e.g. a bad symbol) lets the next call be the trial.
 */
export class CircuitBreaker {
  private current: BreakerState = 'closed';
  private consecutive = 0;
  private openedAt = 0;
  private openedAfter = 0;
  private trialInFlight = false;

  constructor(
    readonly name: string,
    private readonly opts: BreakerOptions,
    private readonly clock: { now(): number },
    private readonly onChange?: (to: BreakerState, info: { failures: number; retryAt: number | null }) => void,
  ) {}

  /** closed / open / half-open, as of now (an open circuit whose cooldown has passed reads half-open) */
  get state(): BreakerState {
    if (this.current === 'open' && this.clock.now() >= this.retryAt()) return 'half-open';
    return this.current;
  }

  /** consecutive failed operations counted so far */
  get failures(): number {
    return this.consecutive;
  }

  /** when an open circuit lets the next trial through (ms) */
  retryAt(): number {
    return this.openedAt + this.opts.cooldownMs;
  }

  /** Call before an operation: throws ExchangeUnavailableError while the circuit refuses calls. */
  acquire(): void {
    if (this.current === 'closed') return;
    const now = this.clock.now();
    if (this.current === 'open') {
      if (now < this.retryAt()) {
        throw new ExchangeUnavailableError(`${this.name} circuit open after ${this.openedAfter} failures; retrying after ${hms(this.retryAt())}`);
      }
      this.set('half-open');
    }
    // half-open: one trial at a time
    if (this.trialInFlight) {
      throw new ExchangeUnavailableError(`${this.name} circuit half-open after ${this.openedAfter} failures: a trial request is in flight; try again in a moment`);
    }
    this.trialInFlight = true;
  }

  /** the operation succeeded: the exchange answers */
  success(): void {
    this.consecutive = 0;
    this.trialInFlight = false;
    if (this.current !== 'closed') this.set('closed');
  }

  /** the operation failed with a retryable error after its retries */
  failure(): void {
    this.trialInFlight = false;
    this.consecutive += 1;
    if (this.current === 'half-open' || (this.current === 'closed' && this.consecutive >= this.opts.failures)) {
      this.openedAt = this.clock.now();
      this.openedAfter = this.consecutive;
      this.set('open');
    }
  }

  /** the operation ended with an answer that says nothing about availability (e.g. bad symbol) */
  neutral(): void {
    this.trialInFlight = false;
  }

  private set(to: BreakerState): void {
    this.current = to;
    this.onChange?.(to, { failures: this.consecutive, retryAt: to === 'open' ? this.retryAt() : null });
  }
}
