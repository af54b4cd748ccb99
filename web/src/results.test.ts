import { describe, expect, it } from 'vitest';
import { isTerminal, newer } from './jobs';
import { backtestMetrics, equityPath, factorRows, factorSourceText, fmtPct, progressText, regimeRows, thin, type JobEventWire } from './results';

describe('result formatting', () => {
  it('formats percentages and missing values', () => {
    expect(fmtPct(0.1234)).toBe('12.34%');
    expect(fmtPct(0.1234, 1, true)).toBe('+12.3%');
    expect(fmtPct(-0.05, 2, true)).toBe('-5.00%');
    expect(fmtPct(null)).toBe('—');
    expect(fmtPct(NaN)).toBe('—');
  });
  it('lists the headline backtest metrics in order, with tones', () => {
    const m = backtestMetrics({ total_return: 1.5, cagr: 0.061, sharpe: 0.52, sortino: 0.71, max_drawdown: -0.338, n_trades: 17, annual_volatility: 0.12, hit_rate: 0.6, exposure: 0.7 });
    expect(m.slice(0, 6).map((x) => [x.label, x.value])).toEqual([
      ['Total return', '+150.00%'],
      ['CAGR', '+6.10%'],
      ['Sharpe', '0.52'],
      ['Sortino', '0.71'],
      ['Max drawdown', '-33.80%'],
      ['Trades', '17'],
    ]);
    expect(m[0].tone).toBe('up');
    expect(m[4].tone).toBe('down');
    // positive drawdown convention is shown as a loss too
    expect(backtestMetrics({ max_drawdown: 0.2 })[4].value).toBe('-20.00%');
    expect(backtestMetrics(null).every((x) => x.value === '—')).toBe(true);
  });
  it('formats progress', () => {
    expect(progressText('running', 0.423, 'simulating')).toBe('RUNNING 42% · simulating');
    expect(progressText('queued', undefined)).toBe('QUEUED');
  });
  it('thins long series keeping the ends', () => {
    expect(thin(5, 10)).toEqual([0, 1, 2, 3, 4]);
    const t = thin(10_000, 2000);
    expect(t.length).toBe(2000);
    expect(t[0]).toBe(0);
    expect(t[t.length - 1]).toBe(9999);
  });
  it('builds an SVG path scaled into the box (max at the top)', () => {
    const d = equityPath([100, 150, 200], 100, 50, 0);
    expect(d).toBe('M0.0 50.0 L50.0 25.0 L100.0 0.0');
    expect(equityPath([1], 100, 50)).toBe('');
    expect(equityPath([5, 5], 100, 50, 0)).toBe('M0.0 50.0 L100.0 50.0');
    const long = equityPath(Array.from({ length: 5000 }, (_, i) => i), 400, 100);
    expect(long.split(' L').length).toBe(2000);
  });
  it('formats factor and regime tables', () => {
    const f = factorRows({ r_squared: 0.9, adj_r_squared: 0.9, alpha_annualized: 0.01, n_obs: 100, start: '', end: '', coefficients: [{ name: 'mkt_rf', coef: 0.98765, std_err: 0.01, t_stat: 98.7, p_value: 0 }, { name: 'smb', coef: -0.1, std_err: 0.2, t_stat: -0.5, p_value: 0.61 }] });
    expect(f[0]).toEqual({ name: 'mkt_rf', beta: '0.988', se: '0.010', t: '98.70', p: '<0.001', significant: true });
    expect(f[1].significant).toBe(false);
    const base = { r_squared: 0.9, adj_r_squared: 0.9, alpha_annualized: 0, n_obs: 1, start: '', end: '', coefficients: [] };
    expect(factorSourceText({ ...base, factor_data: { source: 'Kenneth French data library', start: '1963-07-01', end: '2021-01-31' } })).toBe('factors: Kenneth French data library (1963-07-01 → 2021-01-31)');
    expect(factorSourceText(base)).toBeNull();
    const r = regimeRows({ current: 'bull', current_probabilities: { bull: 0.9 }, series_kind: 'filtered', dates: [], labels: [], stats: [{ regime: 'bull', periods: 10, share: 0.6, ann_return: 0.15, ann_vol: 0.1, sharpe: 1.5, max_drawdown: -0.1, hit_rate: 0.55, avg_duration: 20.25, n_spells: 3 }, { regime: 'bear', periods: 5, share: 0.4, ann_return: -0.2, ann_vol: 0.3, sharpe: -0.7, max_drawdown: -0.5, hit_rate: 0.4, avg_duration: 8, n_spells: 2 }] });
    expect(r[0]).toMatchObject({ regime: 'bull', share: '60.0%', ann_return: '+15.0%', max_drawdown: '-10.0%', current: 'true' });
    expect(r[1]).toMatchObject({ regime: 'bear', ann_return: '-20.0%', current: 'false' });
  });
});

describe('job event ordering', () => {
  const ev = (status: JobEventWire['status'], progress: number): JobEventWire => ({ job_id: 'x', kind: 'backtest', status, progress, message: '', result: null, error: null, ts: '' });
  it('never goes backwards or past a final state', () => {
    expect(newer(null, ev('queued', 0))).toBe(true);
    expect(newer(ev('queued', 0), ev('running', 0.1))).toBe(true);
    expect(newer(ev('running', 0.5), ev('running', 0.4))).toBe(false);
    expect(newer(ev('running', 0.5), ev('queued', 0))).toBe(false);
    expect(newer(ev('running', 0.5), ev('succeeded', 1))).toBe(true);
    expect(newer(ev('succeeded', 1), ev('running', 0.9))).toBe(false);
    expect(isTerminal('failed')).toBe(true);
    expect(isTerminal('running')).toBe(false);
  });
});
