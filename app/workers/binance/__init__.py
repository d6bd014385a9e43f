"""Binance spot and USD-M futures loaders: REST history, streams and local order books."""
