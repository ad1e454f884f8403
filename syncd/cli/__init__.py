"""The command line: one click group; errors become exit codes in main.py only."""
