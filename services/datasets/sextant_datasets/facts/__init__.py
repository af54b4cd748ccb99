"""The fetched datasets kept point in time: fundamentals, macro series, news and alt signals."""
