"""The console scripts of ``pyproject.toml``; each imports its command only when it runs."""

from seqlstm.cli.entry import console_script

train = console_script("train", "seqlstm.cli.train:command")
evaluate = console_script("eval", "seqlstm.cli.evaluate:command")
generate = console_script("generate", "seqlstm.cli.generate:command")
predict = console_script("predict", "seqlstm.cli.predict:command")
export = console_script("export", "seqlstm.cli.export:command")
backtest = console_script("backtest", "seqlstm.cli.backtest:command")
transcribe = console_script("transcribe", "seqlstm.cli.transcribe:command", positional="files")
