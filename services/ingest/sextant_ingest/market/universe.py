"""The simulated market's default universe and each instrument's model parameters.

Prices are rough levels at the start of 2025 (the model's anchor), vols are annualized
fractions, volumes typical units per day. SPX is deliberately absent: the real S&P 500 comes
from the ``shipped`` provider and a simulated one under the same id would shadow it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sextant_common.events import AssetClass
from sextant_common.instruments import Instrument
from sextant_ingest.market.model import InstrumentParams
from sextant_ingest.market.sessions import ALWAYS_OPEN, FX


@dataclass(frozen=True)
class SimulatedInstrument:
    """An instrument of the simulated market and how it moves."""

    instrument: Instrument
    params: InstrumentParams


def _equity(
    ticker: str, name: str, price: float, vol: float, beta: float, volume_m: float
) -> SimulatedInstrument:
    # Earnings-like jumps a few times a year; a fifth of the session variance is the open gap.
    params = InstrumentParams(
        price=price,
        vol=vol,
        market_beta=beta,
        drift=0.06,
        jumps_per_year=4.0,
        jump_vol=0.2 * vol,
        volume=volume_m * 1e6,
        gap_share=0.2,
    )
    return SimulatedInstrument(
        Instrument(instrument_id=ticker, asset_class=AssetClass.EQUITY, name=name, calendar="XNYS"),
        params,
    )


def _index(symbol: str, name: str, price: float, vol: float, beta: float) -> SimulatedInstrument:
    params = InstrumentParams(
        price=price, vol=vol, market_beta=beta, drift=0.05, volume=1e9, gap_share=0.1
    )
    return SimulatedInstrument(
        Instrument(instrument_id=symbol, asset_class=AssetClass.INDEX, name=name, calendar="XNYS"),
        params,
    )


def _fx(pair: str, name: str, price: float, vol: float, beta: float) -> SimulatedInstrument:
    params = InstrumentParams(
        price=price, vol=vol, market_beta=beta, jumps_per_year=1.0, jump_vol=0.01, volume=2e5
    )
    return SimulatedInstrument(
        Instrument(
            instrument_id=pair, asset_class=AssetClass.FX, name=name, currency=pair[3:], calendar=FX
        ),
        params,
    )


def _crypto(
    pair: str, name: str, price: float, vol: float, beta: float, volume: float
) -> SimulatedInstrument:
    params = InstrumentParams(
        price=price,
        vol=vol,
        crypto_beta=beta,
        drift=0.10,
        jumps_per_year=6.0,
        jump_vol=0.08 * vol / 0.55,
        volume=volume,
    )
    return SimulatedInstrument(
        Instrument(
            instrument_id=pair, asset_class=AssetClass.CRYPTO, name=name, calendar=ALWAYS_OPEN
        ),
        params,
    )


# fmt: off
DEFAULT_UNIVERSE: tuple[SimulatedInstrument, ...] = (
    #       ticker  name                              price   vol   beta  volume (M shares/day)
    _equity("AAPL", "Apple Inc.",                     243.0, 0.26, 1.15, 50),
    _equity("MSFT", "Microsoft Corp.",                418.0, 0.24, 1.10, 20),
    _equity("NVDA", "NVIDIA Corp.",                   138.0, 0.50, 1.80, 250),
    _equity("AMZN", "Amazon.com Inc.",                220.0, 0.32, 1.25, 40),
    _equity("GOOGL", "Alphabet Inc. Class A",         189.0, 0.30, 1.15, 25),
    _equity("META", "Meta Platforms Inc.",            585.0, 0.38, 1.35, 15),
    _equity("BRK.B", "Berkshire Hathaway Inc. Class B", 453.0, 0.17, 0.80, 4),
    _equity("TSLA", "Tesla Inc.",                     403.0, 0.60, 1.70, 90),
    _equity("AVGO", "Broadcom Inc.",                  232.0, 0.45, 1.50, 30),
    _equity("JPM", "JPMorgan Chase & Co.",            240.0, 0.23, 1.05, 9),
    _equity("LLY", "Eli Lilly and Co.",               772.0, 0.32, 0.60, 3),
    _equity("V", "Visa Inc. Class A",                 316.0, 0.20, 0.90, 7),
    _equity("UNH", "UnitedHealth Group Inc.",         506.0, 0.25, 0.60, 4),
    _equity("XOM", "Exxon Mobil Corp.",               107.0, 0.25, 0.80, 15),
    _equity("MA", "Mastercard Inc. Class A",          527.0, 0.21, 1.00, 3),
    _equity("JNJ", "Johnson & Johnson",               145.0, 0.16, 0.50, 7),
    _equity("PG", "Procter & Gamble Co.",             168.0, 0.16, 0.45, 7),
    _equity("HD", "Home Depot Inc.",                  389.0, 0.22, 1.00, 4),
    _equity("COST", "Costco Wholesale Corp.",         916.0, 0.22, 0.75, 2),
    _equity("ABBV", "AbbVie Inc.",                    178.0, 0.24, 0.55, 6),
    _equity("MRK", "Merck & Co. Inc.",                 99.0, 0.22, 0.45, 10),
    _equity("WMT", "Walmart Inc.",                     90.0, 0.18, 0.55, 16),
    _equity("NFLX", "Netflix Inc.",                   891.0, 0.40, 1.25, 4),
    _equity("CRM", "Salesforce Inc.",                 334.0, 0.35, 1.20, 6),
    _equity("BAC", "Bank of America Corp.",            44.0, 0.27, 1.20, 35),
    _equity("KO", "Coca-Cola Co.",                     62.0, 0.16, 0.55, 14),
    _equity("PEP", "PepsiCo Inc.",                    152.0, 0.17, 0.50, 6),
    _equity("ORCL", "Oracle Corp.",                   167.0, 0.35, 1.15, 10),
    _equity("AMD", "Advanced Micro Devices Inc.",     121.0, 0.50, 1.70, 45),
    _equity("ADBE", "Adobe Inc.",                     445.0, 0.35, 1.20, 3),
    _equity("CVX", "Chevron Corp.",                   145.0, 0.25, 0.85, 8),
    _equity("TMO", "Thermo Fisher Scientific Inc.",   520.0, 0.24, 0.85, 2),
    _equity("MCD", "McDonald's Corp.",                290.0, 0.17, 0.60, 3),
    _equity("CSCO", "Cisco Systems Inc.",              59.0, 0.22, 0.90, 18),
    _equity("ACN", "Accenture plc Class A",           352.0, 0.25, 1.05, 2),
    _equity("INTC", "Intel Corp.",                     20.0, 0.45, 1.30, 60),
    _equity("DIS", "Walt Disney Co.",                 111.0, 0.28, 1.10, 9),
    _equity("QCOM", "Qualcomm Inc.",                  154.0, 0.38, 1.40, 8),
    _equity("CAT", "Caterpillar Inc.",                363.0, 0.28, 1.10, 3),
    _equity("GS", "Goldman Sachs Group Inc.",         573.0, 0.28, 1.30, 2),
    #      symbol  name                        price     vol   beta
    _index("NDX", "Nasdaq-100 (simulated)",   21000.0, 0.21, 1.20),
    _index("RUT", "Russell 2000 (simulated)",  2230.0, 0.23, 1.15),
    #   pair      name                                  price   vol   beta
    _fx("EURUSD", "Euro / US Dollar",                   1.04,  0.07,  0.05),
    _fx("USDJPY", "US Dollar / Japanese Yen",         157.0,   0.10, -0.05),
    _fx("GBPUSD", "British Pound / US Dollar",          1.25,  0.08,  0.05),
    _fx("AUDUSD", "Australian Dollar / US Dollar",      0.62,  0.10,  0.15),
    _fx("USDCHF", "US Dollar / Swiss Franc",            0.90,  0.08, -0.05),
    #       pair       name            price     vol   beta  volume (coins/day)
    _crypto("BTC-USD", "Bitcoin",      94000.0, 0.55, 1.00, 3.0e4),
    _crypto("ETH-USD", "Ether",         3350.0, 0.70, 1.20, 4.0e5),
    _crypto("SOL-USD", "Solana",         190.0, 0.90, 1.40, 1.5e7),
    _crypto("XRP-USD", "XRP",              2.1, 0.90, 1.20, 2.0e9),
    _crypto("DOGE-USD", "Dogecoin",        0.32, 1.00, 1.40, 6.0e9),
)
# fmt: on

_CLASS_DEFAULTS: dict[AssetClass, InstrumentParams] = {
    AssetClass.EQUITY: InstrumentParams(
        price=100.0,
        vol=0.30,
        market_beta=1.0,
        drift=0.06,
        jumps_per_year=4.0,
        jump_vol=0.06,
        volume=5e6,
        gap_share=0.2,
    ),
    AssetClass.ETF: InstrumentParams(
        price=100.0, vol=0.18, market_beta=1.0, drift=0.05, volume=1e7, gap_share=0.1
    ),
    AssetClass.INDEX: InstrumentParams(
        price=1000.0, vol=0.20, market_beta=1.0, drift=0.05, volume=1e9, gap_share=0.1
    ),
    AssetClass.FX: InstrumentParams(price=1.0, vol=0.08, volume=2e5),
    AssetClass.CRYPTO: InstrumentParams(
        price=100.0,
        vol=0.80,
        crypto_beta=1.2,
        drift=0.10,
        jumps_per_year=6.0,
        jump_vol=0.1,
        volume=1e6,
    ),
}
_BY_ID = {sim.instrument.instrument_id: sim.params for sim in DEFAULT_UNIVERSE}


def default_instruments() -> list[Instrument]:
    """The instruments of the default universe."""
    return [sim.instrument for sim in DEFAULT_UNIVERSE]


def params_for(instrument: Instrument) -> InstrumentParams:
    """Model parameters of ``instrument``: its own if it is in the default universe, else the
    defaults of its asset class (price 100, equity-like for classes without defaults)."""
    if instrument.instrument_id in _BY_ID:
        return _BY_ID[instrument.instrument_id]
    return _CLASS_DEFAULTS.get(instrument.asset_class, _CLASS_DEFAULTS[AssetClass.EQUITY])
