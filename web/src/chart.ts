/**
 * Candlestick + volume chart on Canvas 2D.
 *
 * - Data are columnar typed arrays (Series); x is the candle index (no weekend gaps).
 * - Only visible candles are drawn, with whole-device-pixel fillRect calls grouped by colour.
 * - When candles are narrower than 2 device pixels, each pixel column gets one aggregated
 *   candle (aggregateColumns), so the cost per frame is bounded by the visible candles and
 *   the canvas width, not by a draw call per candle.
 * - A second canvas holds the crosshair so hovering never redraws the candles.
 */
import { scaleLinear } from 'd3-scale';
import { aggregateColumns, Columns } from './aggregate';
import { fmtPrice, fmtTime, fmtVolume, pickTimeLevel, timeTicks } from './format';
import type { Interval } from './interval';
import type { Series } from './series';

export const COLORS = {
  bg: '#0b0e11',
  grid: '#1a1f26',
  axisBg: '#0b0e11',
  axisLine: '#2a313b',
  text: '#8b949e',
  textBright: '#c9d1d9',
  up: '#26a69a',
  down: '#ef5350',
  upVol: 'rgba(38,166,154,0.45)',
  downVol: 'rgba(239,83,80,0.45)',
  cross: 'rgba(201,209,217,0.45)',
  labelBg: '#2a313b',
  lastUp: 'rgba(38,166,154,0.8)',
  lastDown: 'rgba(239,83,80,0.8)',
  watermark: 'rgba(240,180,40,0.08)',
};

/** Colours as the canvas stores them (for pixel checks in tests). */
export const CANDLE_RGB = { up: [0x26, 0xa6, 0x9a], down: [0xef, 0x53, 0x50] } as const;

const FONT = 'ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace';
const AXIS_W_CSS = 72;
const AXIS_H_CSS = 22;
const DEFAULT_BAR_CSS = 5;
const MAX_BAR_CSS = 48;
const RIGHT_PAD_BARS = 3;
/** Below this many device pixels per candle, switch to one aggregated candle per pixel column. */
const AGG_BELOW_PX = 2;

export interface HoverInfo {
  index: number;
  t: number;
  o: number;
  h: number;
  l: number;
  c: number;
  v: number;
  prevClose: number;
}

export interface ChartCallbacks {
  onHover?(info: HoverInfo | null): void;
  onFrame?(drawMs: number): void;
}

interface Layout {
  dpr: number;
  W: number;
  H: number;
  plotW: number;
  priceTop: number;
  priceBottom: number;
  volTop: number;
  volBottom: number;
  axisTop: number;
}

export class CandleChart {
  readonly base: HTMLCanvasElement;
  readonly overlay: HTMLCanvasElement;
  private ctx: CanvasRenderingContext2D;
  private octx: CanvasRenderingContext2D;
  private series: Series | null = null;
  private interval: Interval | null = null;
  private lo = 0;
  private hi = 1;
  private layout: Layout | null = null;
  private cols = new Columns(0);
  private frameId = 0;
  private hoverX: number | null = null; // css px
  private hoverY: number | null = null;
  private drag: { x: number; lo: number; hi: number; id: number } | null = null;
  private ro: ResizeObserver | null = null;
  private watermark: string | null = null;
  private lastMode: 'candles' | 'columns' = 'candles';
  private yScale = scaleLinear();
  private volScale = scaleLinear();
  frames = 0;
  lastDrawMs = 0;

  constructor(
    readonly container: HTMLElement,
    private readonly cb: ChartCallbacks = {},
  ) {
    this.base = document.createElement('canvas');
    this.overlay = document.createElement('canvas');
    this.base.className = 'chart-base';
    this.overlay.className = 'chart-overlay';
    container.append(this.base, this.overlay);
    const ctx = this.base.getContext('2d', { alpha: false });
    const octx = this.overlay.getContext('2d');
    if (!ctx || !octx) throw new Error('canvas 2d unavailable');
    this.ctx = ctx;
    this.octx = octx;
    this.bindEvents();
    this.resize();
    if (typeof ResizeObserver !== 'undefined') {
      this.ro = new ResizeObserver(() => {
        if (this.resize()) this.renderNow();
      });
      this.ro.observe(container);
    }
  }

  destroy(): void {
    this.ro?.disconnect();
    this.base.remove();
    this.overlay.remove();
  }

  // ---------------------------------------------------------------- data & view

  setSeries(series: Series | null, interval: Interval | null): void {
    this.series = series;
    this.interval = interval;
    this.showLatest();
  }

  setWatermark(text: string | null): void {
    this.watermark = text;
    this.invalidate();
  }

  /** Call after the series changed in place (live update or append). Follows the last candle if it was in view. */
  dataChanged(appended: number): void {
    const s = this.series;
    if (!s) return;
    const n = s.length;
    if (appended > 0 && this.hi >= n - appended - 0.5 && this.lo < n - appended) {
      this.lo += appended;
      this.hi += appended;
    }
    this.invalidate();
  }

  get view(): { lo: number; hi: number; plotWidthCss: number; mode: 'candles' | 'columns' } {
    const L = this.layout;
    return { lo: this.lo, hi: this.hi, plotWidthCss: L ? L.plotW / L.dpr : 0, mode: this.lastMode };
  }

  setView(lo: number, hi: number): void {
    this.lo = lo;
    this.hi = hi;
    this.clampView();
    this.invalidate();
  }

  /** The latest candles at the default candle width (or all of them if they fit). */
  showLatest(): void {
    const n = this.series?.length ?? 0;
    const L = this.layout;
    const fitBars = L ? L.plotW / L.dpr / DEFAULT_BAR_CSS : 200;
    const w = Math.max(10, Math.min(fitBars, n + RIGHT_PAD_BARS));
    this.hi = n + RIGHT_PAD_BARS;
    this.lo = this.hi - w;
    this.clampView();
    this.invalidate();
  }

  fitAll(): void {
    const n = this.series?.length ?? 0;
    this.lo = 0;
    this.hi = Math.max(10, n + RIGHT_PAD_BARS);
    this.clampView();
    this.invalidate();
  }

  /** Zoom by `factor` (>1 zooms out) keeping the candle under css x fixed. */
  zoomAt(factor: number, xCss?: number): void {
    const L = this.layout;
    if (!L) return;
    const plotCss = L.plotW / L.dpr;
    const x = Math.min(plotCss, Math.max(0, xCss ?? plotCss));
    const frac = x / plotCss;
    const anchor = this.lo + frac * (this.hi - this.lo);
    const w = this.clampWidth((this.hi - this.lo) * factor);
    this.lo = anchor - frac * w;
    this.hi = this.lo + w;
    this.clampView();
    this.invalidate();
  }

  /** Pan by dx css pixels (positive drags the chart right, showing earlier candles). */
  panBy(dxCss: number): void {
    const L = this.layout;
    if (!L) return;
    const perPx = (this.hi - this.lo) / (L.plotW / L.dpr);
    this.lo -= dxCss * perPx;
    this.hi -= dxCss * perPx;
    this.clampView();
    this.invalidate();
  }

  private clampWidth(w: number): number {
    const L = this.layout;
    const n = this.series?.length ?? 0;
    const minW = L ? Math.max(5, L.plotW / L.dpr / MAX_BAR_CSS) : 5;
    const maxW = Math.max(20, (n + RIGHT_PAD_BARS) * 1.05);
    return Math.min(maxW, Math.max(minW, w));
  }

  private clampView(): void {
    const n = this.series?.length ?? 0;
    let w = this.clampWidth(this.hi - this.lo);
    if (!(w > 0)) w = 10;
    // Keep at least a few candles on screen.
    const keep = Math.min(5, Math.max(1, n));
    let lo = this.lo;
    if (!Number.isFinite(lo)) lo = n - w;
    lo = Math.min(lo, n - keep);
    lo = Math.max(lo, keep - w);
    this.lo = lo;
    this.hi = lo + w;
  }

  // ---------------------------------------------------------------- sizing

  /** Match the canvases to the container and devicePixelRatio. Returns true if the size changed. */
  resize(): boolean {
    const rect = this.container.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    const cssW = Math.max(50, Math.floor(rect.width));
    const cssH = Math.max(50, Math.floor(rect.height));
    const W = Math.round(cssW * dpr);
    const H = Math.round(cssH * dpr);
    const old = this.layout;
    if (old && old.W === W && old.H === H && old.dpr === dpr) return false;
    for (const c of [this.base, this.overlay]) {
      c.width = W;
      c.height = H;
      c.style.width = `${cssW}px`;
      c.style.height = `${cssH}px`;
    }
    const axisW = Math.round(AXIS_W_CSS * dpr);
    const axisH = Math.round(AXIS_H_CSS * dpr);
    const plotW = Math.max(10, W - axisW);
    const bodyH = H - axisH;
    const priceTop = Math.round(8 * dpr);
    const priceBottom = Math.round(bodyH * 0.78);
    const volTop = priceBottom + Math.round(6 * dpr);
    const volBottom = bodyH - Math.round(2 * dpr);
    // Keep the right edge and the candle width when the plot width changes.
    if (old && old.plotW > 0 && this.series) {
      const perPx = (this.hi - this.lo) / (old.plotW / old.dpr);
      this.lo = this.hi - perPx * (plotW / dpr);
    }
    this.layout = { dpr, W, H, plotW, priceTop, priceBottom, volTop, volBottom, axisTop: bodyH };
    if (this.series) this.clampView();
    return true;
  }

  // ---------------------------------------------------------------- rendering

  invalidate(): void {
    if (this.frameId) return;
    this.frameId = requestAnimationFrame(() => {
      this.frameId = 0;
      this.renderNow();
    });
  }

  /** Draw synchronously (dropping any frame already requested); returns the time spent in ms. */
  renderNow(): number {
    const t0 = performance.now();
    if (this.frameId) {
      cancelAnimationFrame(this.frameId);
      this.frameId = 0;
    }
    if ((window.devicePixelRatio || 1) !== this.layout?.dpr) this.resize();
    this.drawBase();
    this.drawOverlay();
    const ms = performance.now() - t0;
    this.frames++;
    this.lastDrawMs = ms;
    this.cb.onFrame?.(ms);
    return ms;
  }

  private drawBase(): void {
    const L = this.layout;
    if (!L) return;
    const ctx = this.ctx;
    const { dpr, W, H, plotW, priceTop, priceBottom, volTop, volBottom, axisTop } = L;
    ctx.fillStyle = COLORS.bg;
    ctx.fillRect(0, 0, W, H);
    const s = this.series;
    if (!s || s.length === 0) {
      this.drawAxesFrame(L);
      return;
    }
    const n = s.length;
    const lo = this.lo, hi = this.hi;
    const k = plotW / (hi - lo); // device px per candle
    const i0 = Math.max(0, Math.floor(lo));
    const i1 = Math.min(n, Math.ceil(hi)); // exclusive
    const aggregated = k < AGG_BELOW_PX;
    this.lastMode = aggregated ? 'columns' : 'candles';

    // Extents of what is visible.
    let minLow = Infinity, maxHigh = -Infinity, maxVol = 0;
    const cols = this.cols;
    if (aggregated) {
      aggregateColumns(s, lo, hi, plotW, cols);
      minLow = cols.minLow;
      maxHigh = cols.maxHigh;
      maxVol = cols.maxVol;
    } else {
      const H_ = s.h, L_ = s.l, V_ = s.v;
      for (let i = i0; i < i1; i++) {
        if (H_[i] > maxHigh) maxHigh = H_[i];
        if (L_[i] < minLow) minLow = L_[i];
        if (V_[i] > maxVol) maxVol = V_[i];
      }
    }
    if (!(maxHigh >= minLow)) {
      minLow = 0;
      maxHigh = 1;
    }
    if (maxHigh === minLow) {
      const d = Math.abs(maxHigh) * 0.01 || 1;
      minLow -= d;
      maxHigh += d;
    }
    const pad = (maxHigh - minLow) * 0.06;
    const y = this.yScale.domain([minLow - pad, maxHigh + pad]).range([priceBottom, priceTop]);
    this.volScale.domain([0, maxVol > 0 ? maxVol : 1]).range([volBottom, volTop]);
    const yd0 = minLow - pad, ySpan = maxHigh + pad - yd0, yPix = priceBottom - priceTop;
    const Y = (p: number) => Math.round(priceBottom - ((p - yd0) / ySpan) * yPix);
    const vPix = volBottom - volTop, vMax = maxVol > 0 ? maxVol : 1;
    const VY = (v: number) => Math.round(volBottom - (v / vMax) * vPix);

    // Grid: price ticks and time ticks.
    const yTicks = y.ticks(Math.max(2, Math.round((priceBottom - priceTop) / (48 * dpr))));
    ctx.fillStyle = COLORS.grid;
    for (const p of yTicks) ctx.fillRect(0, Y(p), plotW, 1);
    const xTicks = this.computeTimeTicks(s, i0, i1, aggregated, k, L);
    for (const tk of xTicks) ctx.fillRect(tk.x, priceTop, 1, volBottom - priceTop);
    ctx.fillRect(0, Math.round(priceBottom + 3 * dpr), plotW, 1);

    ctx.save();
    ctx.beginPath();
    ctx.rect(0, 0, plotW, axisTop);
    ctx.clip();

    if (this.watermark) {
      ctx.fillStyle = COLORS.watermark;
      ctx.font = `bold ${Math.round(42 * dpr)}px ${FONT}`;
      ctx.textAlign = 'center';
      ctx.textBaseline = 'middle';
      ctx.fillText(this.watermark, plotW / 2, (priceTop + priceBottom) / 2);
    }

    if (aggregated) {
      this.drawColumns(cols, Y, VY, volBottom);
    } else {
      this.drawCandles(s, i0, i1, lo, k, Y, VY, volBottom, dpr);
    }
    ctx.restore();

    // Last price line.
    const lastC = s.c[n - 1];
    const lastUp = lastC >= s.o[n - 1];
    const ly = Y(lastC);
    if (ly >= priceTop && ly <= priceBottom) {
      ctx.fillStyle = lastUp ? COLORS.lastUp : COLORS.lastDown;
      const dash = Math.round(4 * dpr);
      for (let x = 0; x < plotW; x += dash * 2) ctx.fillRect(x, ly, Math.min(dash, plotW - x), 1);
    }

    // Axes.
    this.drawAxesFrame(L);
    ctx.font = `${Math.round(11 * dpr)}px ${FONT}`;
    ctx.fillStyle = COLORS.text;
    ctx.textAlign = 'left';
    ctx.textBaseline = 'middle';
    const ref = maxHigh;
    const tagHalf = 10 * dpr;
    for (const p of yTicks) {
      const yy = Y(p);
      if (yy < priceTop + 6 * dpr || yy > priceBottom - 4 * dpr) continue;
      if (Math.abs(yy - ly) < tagHalf) continue; // under the last-price tag
      ctx.fillText(fmtPrice(p, ref), plotW + 6 * dpr, yy);
    }
    ctx.textBaseline = 'top';
    ctx.textAlign = 'center';
    for (const tk of xTicks) ctx.fillText(tk.label, tk.x, axisTop + 5 * dpr);
    // Max visible volume label.
    ctx.textAlign = 'left';
    ctx.textBaseline = 'top';
    ctx.fillText(fmtVolume(maxVol), plotW + 6 * dpr, volTop);
    // Last price tag.
    if (ly >= priceTop - 8 * dpr && ly <= priceBottom + 8 * dpr) {
      this.tag(ctx, fmtPrice(lastC, ref), plotW, ly, lastUp ? COLORS.up : COLORS.down, '#0b0e11', dpr);
    }
  }

  private drawCandles(
    s: Series,
    i0: number,
    i1: number,
    lo: number,
    k: number,
    Y: (p: number) => number,
    VY: (v: number) => number,
    volBottom: number,
    dpr: number,
  ): void {
    const ctx = this.ctx;
    const O = s.o, H = s.h, L = s.l, C = s.c, V = s.v;
    let bodyW = Math.max(1, Math.floor(k * 0.72));
    const wickW = Math.max(1, Math.floor(dpr));
    if (bodyW > wickW && (bodyW - wickW) % 2 === 1) bodyW -= 1; // wick centred on the body
    const half = Math.floor((bodyW - wickW) / 2);
    for (let pass = 0; pass < 2; pass++) {
      const up = pass === 0;
      // Price: wick + body, one colour per pass.
      ctx.fillStyle = up ? COLORS.up : COLORS.down;
      for (let i = i0; i < i1; i++) {
        if (C[i] >= O[i] !== up) continue;
        const cx = Math.floor((i + 0.5 - lo) * k) - (wickW >> 1);
        const yh = Y(H[i]), yl = Y(L[i]);
        ctx.fillRect(cx, yh, wickW, Math.max(1, yl - yh));
        const yt = Y(up ? C[i] : O[i]), yb = Y(up ? O[i] : C[i]);
        ctx.fillRect(cx - half, yt, bodyW, Math.max(1, yb - yt));
      }
      ctx.fillStyle = up ? COLORS.upVol : COLORS.downVol;
      for (let i = i0; i < i1; i++) {
        if (C[i] >= O[i] !== up) continue;
        const cx = Math.floor((i + 0.5 - lo) * k) - (wickW >> 1);
        const vy = VY(V[i]);
        ctx.fillRect(cx - half, vy, bodyW, Math.max(1, volBottom - vy));
      }
    }
  }

  private drawColumns(cols: Columns, Y: (p: number) => number, VY: (v: number) => number, volBottom: number): void {
    const ctx = this.ctx;
    const { o, h, l, c, v, count } = cols;
    for (let pass = 0; pass < 2; pass++) {
      const up = pass === 0;
      ctx.fillStyle = up ? COLORS.up : COLORS.down;
      for (let x = 0; x < cols.n; x++) {
        if (count[x] === 0 || c[x] >= o[x] !== up) continue;
        const yh = Y(h[x]);
        ctx.fillRect(x, yh, 1, Math.max(1, Y(l[x]) - yh));
      }
      ctx.fillStyle = up ? COLORS.upVol : COLORS.downVol;
      for (let x = 0; x < cols.n; x++) {
        if (count[x] === 0 || c[x] >= o[x] !== up) continue;
        const vy = VY(v[x]);
        ctx.fillRect(x, vy, 1, Math.max(1, volBottom - vy));
      }
    }
  }

  private computeTimeTicks(s: Series, i0: number, i1: number, aggregated: boolean, k: number, L: Layout): { x: number; label: string }[] {
    if (i1 <= i0) return [];
    const spanMs = s.t[i1 - 1] - s.t[i0];
    const visiblePxCss = ((i1 - i0) * k) / L.dpr;
    const minGapCss = 84;
    const msPerLabel = visiblePxCss > 0 ? (spanMs / visiblePxCss) * minGapCss : Infinity;
    const level = pickTimeLevel(Math.max(msPerLabel, this.interval?.ms ?? 0));
    let ticks;
    if (aggregated) {
      ticks = timeTicks(s.t, this.cols.first, this.cols.n, i0 > 0 && this.cols.first[0] > 0 ? this.cols.first[0] - 1 : -1, level);
    } else {
      const idx = new Int32Array(i1 - i0);
      for (let i = i0; i < i1; i++) idx[i - i0] = i;
      ticks = timeTicks(s.t, idx, idx.length, i0 - 1, level);
    }
    const out: { x: number; label: string }[] = [];
    let lastX = -Infinity;
    const gap = minGapCss * L.dpr * 0.8;
    const half = 24 * L.dpr;
    for (const tk of ticks) {
      const x = Math.floor((tk.index + 0.5 - this.lo) * k);
      if (x - lastX < gap || x < half || x > L.plotW - half) continue;
      out.push({ x, label: tk.label });
      lastX = x;
    }
    return out;
  }

  private drawAxesFrame(L: Layout): void {
    const ctx = this.ctx;
    ctx.fillStyle = COLORS.axisBg;
    ctx.fillRect(L.plotW, 0, L.W - L.plotW, L.H);
    ctx.fillRect(0, L.axisTop, L.W, L.H - L.axisTop);
    ctx.fillStyle = COLORS.axisLine;
    ctx.fillRect(L.plotW, 0, 1, L.axisTop);
    ctx.fillRect(0, L.axisTop, L.W, 1);
  }

  private tag(ctx: CanvasRenderingContext2D, text: string, x: number, y: number, bg: string, fg: string, dpr: number): void {
    ctx.font = `${Math.round(11 * dpr)}px ${FONT}`;
    const h = Math.round(16 * dpr);
    const w = Math.ceil(ctx.measureText(text).width + 10 * dpr);
    ctx.fillStyle = bg;
    ctx.fillRect(x + 1, Math.round(y - h / 2), w, h);
    ctx.fillStyle = fg;
    ctx.textAlign = 'left';
    ctx.textBaseline = 'middle';
    ctx.fillText(text, x + 5 * dpr, y);
  }

  // ---------------------------------------------------------------- crosshair

  /** Candle index under css x, or -1. */
  indexAt(xCss: number): number {
    const L = this.layout;
    const s = this.series;
    if (!L || !s || s.length === 0) return -1;
    const i = Math.floor(this.lo + ((xCss * L.dpr) / L.plotW) * (this.hi - this.lo));
    return Math.max(0, Math.min(s.length - 1, i));
  }

  hoverInfo(i: number): HoverInfo | null {
    const s = this.series;
    if (!s || i < 0 || i >= s.length) return null;
    return { index: i, t: s.t[i], o: s.o[i], h: s.h[i], l: s.l[i], c: s.c[i], v: s.v[i], prevClose: i > 0 ? s.c[i - 1] : NaN };
  }

  private drawOverlay(): void {
    const L = this.layout;
    const ctx = this.octx;
    if (!L) return;
    ctx.clearRect(0, 0, L.W, L.H);
    const s = this.series;
    if (this.hoverX === null || this.hoverY === null || !s || s.length === 0) {
      this.cb.onHover?.(null);
      return;
    }
    const { dpr, plotW } = L;
    const x = this.hoverX * dpr, yPos = this.hoverY * dpr;
    if (x > plotW || yPos > L.axisTop) {
      this.cb.onHover?.(null);
      return;
    }
    const i = this.indexAt(this.hoverX);
    const k = plotW / (this.hi - this.lo);
    const cx = Math.floor((i + 0.5 - this.lo) * k);
    ctx.fillStyle = COLORS.cross;
    ctx.fillRect(cx, 0, 1, L.axisTop);
    const yy = Math.round(yPos);
    ctx.fillRect(0, yy, plotW, 1);
    // Axis tags.
    if (yPos <= L.priceBottom) {
      const p = this.yScale.invert(yPos);
      this.tag(ctx, fmtPrice(p, this.yScale.domain()[1]), plotW, yy, COLORS.labelBg, COLORS.textBright, dpr);
    } else if (yPos >= L.volTop) {
      this.tag(ctx, fmtVolume(this.volScale.invert(yPos)), plotW, yy, COLORS.labelBg, COLORS.textBright, dpr);
    }
    const label = fmtTime(s.t[i], this.interval?.ms ?? 86_400_000);
    ctx.font = `${Math.round(11 * dpr)}px ${FONT}`;
    const w = ctx.measureText(label).width + 12 * dpr;
    const bx = Math.max(0, Math.min(plotW - w, cx - w / 2));
    ctx.fillStyle = COLORS.labelBg;
    ctx.fillRect(bx, L.axisTop + 1, w, L.H - L.axisTop - 1);
    ctx.fillStyle = COLORS.textBright;
    ctx.textAlign = 'left';
    ctx.textBaseline = 'top';
    ctx.fillText(label, bx + 6 * dpr, L.axisTop + 5 * dpr);
    this.cb.onHover?.(this.hoverInfo(i));
  }

  // ---------------------------------------------------------------- input

  private bindEvents(): void {
    const el = this.overlay;
    el.style.touchAction = 'none';
    el.addEventListener('pointerdown', (e) => {
      if (e.button !== 0) return;
      el.setPointerCapture(e.pointerId);
      this.drag = { x: e.clientX, lo: this.lo, hi: this.hi, id: e.pointerId };
      el.style.cursor = 'grabbing';
    });
    el.addEventListener('pointermove', (e) => {
      const r = el.getBoundingClientRect();
      this.hoverX = e.clientX - r.left;
      this.hoverY = e.clientY - r.top;
      if (this.drag && this.drag.id === e.pointerId) {
        const L = this.layout;
        if (L) {
          const perPx = (this.drag.hi - this.drag.lo) / (L.plotW / L.dpr);
          const dx = e.clientX - this.drag.x;
          this.lo = this.drag.lo - dx * perPx;
          this.hi = this.drag.hi - dx * perPx;
          this.clampView();
        }
        this.invalidate();
      } else {
        this.drawOverlay();
      }
    });
    const end = (e: PointerEvent) => {
      if (this.drag && this.drag.id === e.pointerId) {
        this.drag = null;
        el.style.cursor = 'crosshair';
      }
    };
    el.addEventListener('pointerup', end);
    el.addEventListener('pointercancel', end);
    el.addEventListener('pointerleave', () => {
      this.hoverX = this.hoverY = null;
      this.drawOverlay();
    });
    el.addEventListener(
      'wheel',
      (e) => {
        e.preventDefault();
        const unit = e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? 400 : 1;
        const dx = e.deltaX * unit, dy = e.deltaY * unit;
        if (Math.abs(dx) > Math.abs(dy)) {
          this.panBy(-dx);
        } else if (dy !== 0) {
          const r = el.getBoundingClientRect();
          this.zoomAt(Math.exp(Math.max(-1, Math.min(1, dy * 0.0015))), e.clientX - r.left);
        }
      },
      { passive: false },
    );
    el.addEventListener('dblclick', () => this.fitAll());
    el.style.cursor = 'crosshair';
  }
}
