"""Time series: tables of one or many series, their checks and scalers, forecasting windows,
prediction tables and plots."""
