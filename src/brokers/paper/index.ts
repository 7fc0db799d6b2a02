/** The paper broker: fills on real prices, keeps its account in the store. */
export { PaperBroker, type PaperBrokerOptions } from './paper-broker.js';
export type { PaperMarket } from './market-view.js';
export type { PaperFill } from './order-record.js';
export { candleSlippageBps, walkBook, MAX_SLIPPAGE_BPS, type SlippageModel } from './fill-model.js';
