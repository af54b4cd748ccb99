/** Command bar grammar (pure): Bloomberg-style `<SYMBOL> [GP]`, `BACKTEST`, `FA`, `REG`, `HELP`. */

export type Command =
  | { kind: 'chart'; symbol: string }
  | { kind: 'backtest'; symbol: string; strategy: string }
  | { kind: 'factors'; symbol: string; model: string }
  | { kind: 'regimes'; symbol: string; states: number }
  | { kind: 'help' }
  | { kind: 'invalid'; message: string };

export const HELP: [string, string][] = [
  ['<SYMBOL> [GP]', 'chart the symbol, e.g. SPX or BTC-USD GP'],
  ['BACKTEST <SYMBOL> <SPEC>', 'run a backtest job, e.g. BACKTEST SPX 50SMA.200EMA'],
  ['FA <SYMBOL> [FF3|FF5|CARHART]', 'factor exposures: betas, t-stats, R² (monthly, Kenneth French data)'],
  ['REG <SYMBOL> [STATES]', 'market regimes: current regime and per-regime stats'],
  ['HELP', 'this help · Esc closes the panel · / focuses the command bar'],
];

/** Same alphabet as the server's instrument ids. */
const SYMBOL_RE = /^[A-Za-z0-9.\-_:/^]{1,64}$/;
const SPEC_RE = /^[A-Za-z0-9.\-_]{1,64}$/;
/** The factor models the quant service has data for (`GET /api/v1/quant/factors?model=`). */
export const FACTOR_MODELS = ['ff3', 'ff5', 'carhart'] as const;

function symbolOk(s: string | undefined): s is string {
  return !!s && SYMBOL_RE.test(s);
}

/**
 * Parse one command line. Case-insensitive keywords; symbols and specs are upper-cased.
 * `resolve` maps a typed symbol to the listed id (e.g. case fixes); identity by default.
 */
export function parseCommand(raw: string, resolve: (sym: string) => string = (s) => s.toUpperCase()): Command {
  const toks = raw.trim().split(/\s+/).filter(Boolean);
  if (toks.length === 0) return { kind: 'invalid', message: 'empty command · type HELP' };
  const head = toks[0].toUpperCase();
  const args = toks.slice(1);
  switch (head) {
    case 'HELP':
    case '?':
    case 'H':
      return { kind: 'help' };
    case 'BACKTEST':
    case 'BT': {
      if (args.length !== 2) return { kind: 'invalid', message: 'usage: BACKTEST <SYMBOL> <SPEC>, e.g. BACKTEST SPX 50SMA.200EMA' };
      if (!symbolOk(args[0])) return { kind: 'invalid', message: `not a symbol: ${args[0]}` };
      if (!SPEC_RE.test(args[1])) return { kind: 'invalid', message: `not a strategy spec: ${args[1]}` };
      return { kind: 'backtest', symbol: resolve(args[0]), strategy: args[1].toUpperCase() };
    }
    case 'FA': {
      if (args.length < 1 || args.length > 2) return { kind: 'invalid', message: 'usage: FA <SYMBOL> [MODEL], e.g. FA SPX' };
      if (!symbolOk(args[0])) return { kind: 'invalid', message: `not a symbol: ${args[0]}` };
      const model = (args[1] ?? 'ff3').toLowerCase();
      if (!(FACTOR_MODELS as readonly string[]).includes(model)) {
        return { kind: 'invalid', message: `not a factor model: ${args[1]} · one of ${FACTOR_MODELS.join(', ').toUpperCase()}` };
      }
      return { kind: 'factors', symbol: resolve(args[0]), model };
    }
    case 'REG': {
      if (args.length < 1 || args.length > 2) return { kind: 'invalid', message: 'usage: REG <SYMBOL> [STATES], e.g. REG SPX' };
      if (!symbolOk(args[0])) return { kind: 'invalid', message: `not a symbol: ${args[0]}` };
      const states = args[1] === undefined ? 3 : Number(args[1]);
      if (!Number.isInteger(states) || states < 2 || states > 6) return { kind: 'invalid', message: `REG: states must be 2..6, got ${args[1]}` };
      return { kind: 'regimes', symbol: resolve(args[0]), states };
    }
  }
  // <SYMBOL> or <SYMBOL> GP
  if (toks.length === 1 || (toks.length === 2 && args[0].toUpperCase() === 'GP')) {
    if (!symbolOk(toks[0])) return { kind: 'invalid', message: `not a symbol: ${toks[0]}` };
    return { kind: 'chart', symbol: resolve(toks[0]) };
  }
  return { kind: 'invalid', message: `unknown command: ${raw.trim()} · type HELP` };
}

/** A client-chosen job id (alphanumeric, 8..64 chars) so the WS subscription can precede the POST. */
export function newJobId(rand: () => number = Math.random, now: number = Date.now()): string {
  let s = 'bt' + now.toString(36);
  const abc = 'abcdefghijklmnopqrstuvwxyz0123456789';
  while (s.length < 24) s += abc[Math.floor(rand() * abc.length) % abc.length];
  return s;
}
