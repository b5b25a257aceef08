"""Rolling-origin backtesting: train on data up to t, evaluate on (t, t + horizon], window after window."""
