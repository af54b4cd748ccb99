import { describe, expect, it } from 'vitest';
import { newJobId, parseCommand } from './command';

describe('parseCommand', () => {
  it('charts a bare symbol or SYMBOL GP, case-insensitively', () => {
    expect(parseCommand('spx')).toEqual({ kind: 'chart', symbol: 'SPX' });
    expect(parseCommand('  btc-usd   gp ')).toEqual({ kind: 'chart', symbol: 'BTC-USD' });
    expect(parseCommand('^gspc')).toEqual({ kind: 'chart', symbol: '^GSPC' });
  });
  it('uses the resolver for listed symbols', () => {
    const resolve = (s: string) => (s.toLowerCase() === 'eurusd' ? 'EURUSD=X' : s.toUpperCase());
    expect(parseCommand('eurusd', resolve)).toEqual({ kind: 'chart', symbol: 'EURUSD=X' });
    expect(parseCommand('FA eurusd', resolve)).toEqual({ kind: 'factors', symbol: 'EURUSD=X', model: 'ff3' });
  });
  it('parses BACKTEST <SYMBOL> <SPEC>', () => {
    expect(parseCommand('BACKTEST SPX 50SMA.200EMA')).toEqual({ kind: 'backtest', symbol: 'SPX', strategy: '50SMA.200EMA' });
    expect(parseCommand('backtest spx 50sma.200ema')).toEqual({ kind: 'backtest', symbol: 'SPX', strategy: '50SMA.200EMA' });
    expect(parseCommand('bt spx 20ema.50ema')).toMatchObject({ kind: 'backtest', strategy: '20EMA.50EMA' });
  });
  it('leaves spec validation to the server but rejects malformed input', () => {
    // Unknown indicators are the server's call (422 names the token).
    expect(parseCommand('BACKTEST SPX 50SMMA.200EMA')).toMatchObject({ kind: 'backtest', strategy: '50SMMA.200EMA' });
    expect(parseCommand('BACKTEST SPX')).toMatchObject({ kind: 'invalid', message: expect.stringContaining('usage: BACKTEST') });
    expect(parseCommand('BACKTEST SPX 50SMA 200EMA')).toMatchObject({ kind: 'invalid' });
    expect(parseCommand('BACKTEST SPX 50SMA;DROP')).toMatchObject({ kind: 'invalid', message: expect.stringContaining('50SMA;DROP') });
  });
  it('parses FA and REG with defaults and options', () => {
    expect(parseCommand('fa spx')).toEqual({ kind: 'factors', symbol: 'SPX', model: 'ff3' });
    expect(parseCommand('FA SPX FF5')).toEqual({ kind: 'factors', symbol: 'SPX', model: 'ff5' });
    expect(parseCommand('FA SPX CARHART')).toEqual({ kind: 'factors', symbol: 'SPX', model: 'carhart' });
    expect(parseCommand('fa spx ff3')).toEqual({ kind: 'factors', symbol: 'SPX', model: 'ff3' });
    expect(parseCommand('FA SPX FF7')).toEqual({ kind: 'invalid', message: 'not a factor model: FF7 · one of FF3, FF5, CARHART' });
    expect(parseCommand('reg spx')).toEqual({ kind: 'regimes', symbol: 'SPX', states: 3 });
    expect(parseCommand('REG SPX 2')).toEqual({ kind: 'regimes', symbol: 'SPX', states: 2 });
    expect(parseCommand('REG SPX 9')).toMatchObject({ kind: 'invalid' });
    expect(parseCommand('FA')).toMatchObject({ kind: 'invalid', message: expect.stringContaining('usage: FA') });
  });
  it('has help and rejects unknown commands', () => {
    expect(parseCommand('help')).toEqual({ kind: 'help' });
    expect(parseCommand('?')).toEqual({ kind: 'help' });
    expect(parseCommand('')).toMatchObject({ kind: 'invalid' });
    expect(parseCommand('SPX GIP X')).toMatchObject({ kind: 'invalid', message: expect.stringContaining('HELP') });
    expect(parseCommand('SP$X')).toMatchObject({ kind: 'invalid' });
  });
});

describe('newJobId', () => {
  it('is alphanumeric and 8..64 characters, as the server requires', () => {
    const id = newJobId();
    expect(id).toMatch(/^[A-Za-z0-9]{8,64}$/);
    expect(newJobId(() => 0.5, 0)).toMatch(/^bt0s{21}$/);
    expect(newJobId()).not.toBe(newJobId());
  });
});
