import { block, utcAt, type Block, type Estimate, type Order, type Position, type Preview } from '../../src/kernel/index.js';

/** Prices and amounts: as many decimals as the size needs, never scientific notation. */
export function num(n: number, maxDecimals = 8): string {
  if (!Number.isFinite(n)) return String(n);
  const abs = Math.abs(n);
  const decimals = abs >= 1000 ? 2 : abs >= 1 ? 4 : maxDecimals;
  return n.toLocaleString('en-US', { minimumFractionDigits: 0, maximumFractionDigits: decimals });
}

export function money(n: number, currency: string): string {
  return `${n.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })} ${currency}`;
}

/** The confirm step: what the order would cost and what each risk check says. */
export function previewBlocks(summary: string, p: Preview, quote: string): Block[] {
  const e: Estimate = p.estimate;
  const blocks: Block[] = [
    block.kv(
      [
        ['order', summary],
        ['expected price', `${num(e.price)} ${quote} (${e.basis})`],
        ['notional', money(e.notional, quote)],
        ['fee', `${money(e.fee, e.feeCurrency)} (${e.liquidity} ${(e.feeRate * 100).toFixed(3)} %, ${e.feeSource})`],
        ['expected slippage', `${e.slippageBps.toFixed(1)} bps vs ${num(e.reference)}`],
        ['spread', e.spreadBps === null ? 'unknown (no book or bid/ask)' : `${e.spreadBps.toFixed(1)} bps`],
        ['price as of', utcAt(e.priceTime)],
      ],
      'Order',
    ),
  ];
  if (p.checks.length > 0) {
    blocks.push(
      block.table(
        ['risk check', 'result', 'detail'],
        p.checks.map((c) => [c.name, c.ok ? 'pass' : 'FAIL', c.detail]),
        { title: 'Risk checks' },
      ),
    );
  } else {
    blocks.push(block.text('No risk checks are registered (the risk plugin is not loaded).', 'warn'));
  }
  if (p.halt.halted) blocks.push(block.text(`Trading is HALTED (${p.halt.by ?? '?'}: ${p.halt.reason ?? ''}); this order would be refused.`, 'error'));
  else if (!p.wouldPass) blocks.push(block.text('A risk check fails: this order would be refused.', 'error'));
  return blocks;
}

export function orderLine(o: Order): string {
  const price = o.type === 'market' ? 'market' : `${o.type} ${num(o.price ?? o.stopPrice ?? 0)}`;
  return `${o.side} ${num(o.amount)} ${o.symbol} ${price}`;
}

/** What happened to an order, in one reply. */
export function orderResult(o: Order): Block[] {
  const quote = o.symbol.split('/')[1] ?? '';
  if (o.state === 'rejected' || o.state === 'failed') {
    return [block.text(`Order ${o.id} ${o.state.toUpperCase()}: ${o.reason ?? 'no reason given'}`, 'error')];
  }
  const rows: Array<[string, string]> = [
    ['order', `${o.id} (${o.broker})`],
    ['what', orderLine(o)],
    ['state', o.state],
    ['filled', `${num(o.filled)} of ${num(o.amount)}`],
  ];
  if (o.avgPrice !== null) rows.push(['avg price', `${num(o.avgPrice)} ${quote}`], ['notional', money(o.avgPrice * o.filled, quote)]);
  if (o.fees > 0) rows.push(['fees', `${num(o.fees)} ${o.feeCurrency ?? ''}`]);
  return [block.kv(rows, o.state === 'filled' ? 'Filled' : 'Order')];
}

export function ordersTable(orders: Order[], title: string): Block {
  return block.table(
    ['id', 'when', 'order', 'state', 'filled', 'avg', 'by'],
    orders.map((o) => [o.id, utcAt(o.createdAt), orderLine(o), o.state, num(o.filled), o.avgPrice === null ? '-' : num(o.avgPrice), o.requestedBy]),
    { title },
  );
}

export interface MarkedPosition extends Position {
  mark: number | null;
  markTime: number | null;
  unrealised: number | null;
  quote: string;
}

export function positionsTable(list: MarkedPosition[]): Block {
  return block.table(
    ['symbol', 'amount', 'avg price', 'mark', 'value', 'unrealised', 'realised'],
    list.map((p) => [
      p.symbol,
      num(p.amount),
      num(p.avgPrice),
      p.mark === null ? 'no price' : num(p.mark),
      p.mark === null ? '-' : money(p.amount * p.mark, p.quote),
      p.unrealised === null ? '-' : money(p.unrealised, p.quote),
      money(p.realisedPnl, p.quote),
    ]),
    { title: 'Positions', align: ['left', 'right', 'right', 'right', 'right', 'right', 'right'] },
  );
}
