"""`python -m nnlib`: the command line of Chapter 13 (the code is in nnlib/cli.py, exported from that chapter)."""
import sys

from nnlib.cli import main

sys.exit(main())
