"""``python -m custrec``: the same command line as ``custrec``."""

from custrec.cli import main

if __name__ == "__main__":
    main(prog_name="custrec")
