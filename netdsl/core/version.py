"""netdsl's version: one constant, here at the bottom so that every stage can name it without
importing the package's public face (`netdsl/__init__` loads the API when asked)."""

__version__ = "0.1.0"
