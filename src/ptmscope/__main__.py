"""``python -m ptmscope``: the same entry point as the ``ptmscope`` console script."""

from ptmscope.cli.main import main

if __name__ == "__main__":
    main()
