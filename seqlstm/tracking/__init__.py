"""What a run shows besides its scalars: loggers, samples, figures, terminal output."""
