import { UserError } from '../kernel/errors.js';
import type { Gap } from './types.js';

/**
 * Market failures a trader sees as a sentence, never as a number computed anyway.
 * All extend UserError so the dispatcher shows the message as it is.
 */
export class MarketError extends UserError {}

export class UnknownSymbolError extends MarketError {
  constructor(
    readonly exchange: string,
    readonly input: string,
    readonly suggestions: string[],
  ) {
    super(`${exchange} has no market "${input}".${suggestions.length > 0 ? ` Did you mean ${suggestions.join(', ')}?` : ''}`);
  }
}

export class UnknownExchangeError extends MarketError {
  constructor(exchange: string, known: readonly string[]) {
    super(`exchange "${exchange}" is not configured (configured: ${known.join(', ') || 'none'})`);
  }
}

/** A series with missing candles where the computation needs a contiguous one. */
export class DataGapError extends MarketError {
  constructor(
    readonly where: string,
    readonly gaps: Gap[],
    detail: string,
  ) {
    super(`${where}: ${detail} — not computing`);
  }
}

/** Candles that break an invariant (NaN, negative, high < open, unsorted, duplicates). */
export class BadDataError extends MarketError {}

/** The last candle is older than two timeframes in live mode. */
export class StaleDataError extends MarketError {}

/** Network, rate-limit or exchange-down errors that outlived the retries, or an open circuit. */
export class ExchangeUnavailableError extends MarketError {}

/** The exchange did not answer within the timeout. */
export class ExchangeTimeoutError extends MarketError {}

/** Not enough data for what was asked (e.g. a new listing, or a range before the record starts). */
export class NotEnoughDataError extends MarketError {}
