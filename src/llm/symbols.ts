/**
 * Which market symbols a text names, and whether each was given. Checked: pairs written
 * BASE/QUOTE or BASE-QUOTE in capitals, cashtags ($PEPE), capitalised tickers from a list of
 * known currencies (extendable, e.g. with the exchange's markets), and a few coin names
 * (Bitcoin → BTC). Capitalised words that are not currencies (RSI, EMA, PNL, UTC) are left alone,
 * which is why the known list leaves out tickers that are also everyday words (ONE, NOT, KEY).
 */

export const KNOWN_CURRENCIES: readonly string[] = [
  // majors and large caps
  'BTC', 'ETH', 'BNB', 'SOL', 'XRP', 'ADA', 'DOGE', 'TRX', 'TON', 'DOT', 'AVAX', 'SHIB', 'LINK', 'BCH', 'LTC', 'NEAR',
  'MATIC', 'POL', 'UNI', 'ICP', 'APT', 'ARB', 'SUI', 'SEI', 'TIA', 'INJ', 'FIL', 'ATOM', 'ETC', 'XLM', 'XMR', 'HBAR',
  'VET', 'MKR', 'AAVE', 'GRT', 'RUNE', 'ALGO', 'EGLD', 'FTM', 'SAND', 'MANA', 'AXS', 'THETA', 'XTZ', 'EOS', 'KSM',
  'PEPE', 'WIF', 'BONK', 'FLOKI', 'WLD', 'JUP', 'PYTH', 'ENA', 'STX', 'IMX', 'LDO', 'CRV', 'SNX', 'COMP', 'YFI',
  'SUSHI', 'CAKE', '1INCH', 'ZEC', 'DASH', 'ZIL', 'ZRX', 'BAT', 'ENJ', 'CHZ', 'GALA', 'APE', 'DYDX', 'GMX', 'OP',
  'KAVA', 'CELO', 'QTUM', 'NEO', 'IOTA', 'WAVES', 'ONT', 'ICX', 'ZEN', 'RVN', 'DGB', 'SC', 'XEM', 'HNT', 'AR',
  'CKB', 'KAS', 'TAO', 'RNDR', 'RENDER', 'FET', 'AGIX', 'OCEAN', 'ROSE', 'MINA', 'FLOW', 'CFX', 'GMT', 'LUNA', 'LUNC',
  'USTC', 'BTT', 'WIN', 'JST', 'SXP', 'TWT', 'XVS', 'ALICE', 'AUDIO', 'ANKR', 'CELR', 'CHR', 'COCOS', 'CTSI', 'DENT',
  'DODO', 'IOST', 'IOTX', 'LPT', 'MTL', 'NKN', 'NMR', 'OGN', 'OMG', 'OXT', 'PERP', 'POND', 'REEF', 'RLC', 'SKL',
  'SLP', 'STMX', 'STPT', 'STRAX', 'TFUEL', 'TLM', 'WRX', 'BTCST', 'BTG', 'DEGO', 'DNT', 'GTO', 'GXS', 'HARD', 'MBL',
  'PNT', 'POLS', 'TKO', 'XVG', 'LRC', 'BAND', 'REN', 'KNC', 'BAL', 'UMA', 'STORJ', 'SFP', 'ONG', 'AION', 'PERL',
  // stablecoins and wrapped
  'USDT', 'USDC', 'BUSD', 'DAI', 'TUSD', 'FDUSD', 'USDP', 'USDE', 'PYUSD', 'WBTC', 'WETH', 'STETH',
];

/** Fiat codes are units, not assets: always allowed. */
export const FIAT: readonly string[] = ['USD', 'EUR', 'GBP', 'JPY', 'CHF', 'CAD', 'AUD', 'KRW', 'TRY', 'BRL'];

const NAMES: Record<string, string> = {
  bitcoin: 'BTC',
  ethereum: 'ETH',
  ether: 'ETH',
  solana: 'SOL',
  ripple: 'XRP',
  cardano: 'ADA',
  dogecoin: 'DOGE',
  polkadot: 'DOT',
  avalanche: 'AVAX',
  litecoin: 'LTC',
  chainlink: 'LINK',
  tether: 'USDT',
  tron: 'TRX',
  polygon: 'MATIC',
};

/** "btc/usdt:usdt" → ["BTC/USDT", "BTC", "USDT"] */
export function symbolParts(symbol: string): string[] {
  const s = symbol.toUpperCase().replace(/:.*$/, '').replace('-', '/');
  const [base, quote] = s.split('/');
  return [s, base, quote].filter((x): x is string => x !== undefined && x !== '');
}

const PAIR = /(?<![A-Za-z0-9])([0-9]?[A-Z][A-Z0-9]{1,11})\s?[/-]\s?([0-9]?[A-Z][A-Z0-9]{1,11})(?![A-Za-z0-9])/g;
const WORD = /(?<![A-Za-z0-9$])([0-9]?[A-Z][A-Z0-9]{1,11})(?![A-Za-z0-9])/g;
const CASHTAG = /\$([A-Za-z][A-Za-z0-9]{1,11})(?![A-Za-z0-9])/g;
const NAME_RE = new RegExp(`\\b(${Object.keys(NAMES).join('|')})\\b`, 'gi');

/**
 * The first symbol in `text` that is not allowed, or null. `allowed` holds upper-case pairs and
 * currencies (see symbolParts); `known` the currencies a capitalised word is checked against.
 */
export function firstUnknownSymbol(text: string, allowed: ReadonlySet<string>, known: ReadonlySet<string>): string | null {
  const ok = (s: string): boolean => allowed.has(s.toUpperCase()) || FIAT.includes(s.toUpperCase());
  for (const m of text.matchAll(PAIR)) {
    const pair = `${m[1] ?? ''}/${m[2] ?? ''}`;
    // Both sides known currencies → a market pair; "ATH-EMA" style compounds are not.
    const looksLikePair = known.has(m[1] ?? '') || known.has(m[2] ?? '');
    if (looksLikePair && !ok(pair)) return m[0];
  }
  for (const m of text.matchAll(CASHTAG)) if (!ok(m[1] ?? '')) return m[0];
  for (const m of text.matchAll(WORD)) {
    const w = m[1] ?? '';
    if (known.has(w) && !ok(w)) return w;
  }
  for (const m of text.matchAll(NAME_RE)) {
    const ticker = NAMES[(m[1] ?? '').toLowerCase()];
    if (ticker !== undefined && !ok(ticker)) return m[0];
  }
  return null;
}
