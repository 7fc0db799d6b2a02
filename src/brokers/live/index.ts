/** The live broker: real orders through ccxt, keyed by our client order id. */
export { CcxtBroker, type CcxtBrokerOptions, type ExchangeCredentials, type Reconciliation } from './ccxt-broker.js';
export { createLiveBroker, type LiveBrokerDeps } from './factory.js';
export { LiveBrokerError, type LiveErrorKind } from './errors.js';
