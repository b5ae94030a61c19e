"""benchbed-digits-zoo: small CNNs for the embedded digits track (standard, PGD-AT, TRADES, WEAT, JEM, DAT)."""

__version__ = "0.3.0"
