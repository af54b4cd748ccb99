"""Cross-sectional analytics over the daily panel: the screener and correlation matrices."""
