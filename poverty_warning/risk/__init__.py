"""The early-warning risk model: features from dbt, training, backtest and scoring (scikit-learn)."""
