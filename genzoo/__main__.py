"""`python -m genzoo ...` (also what torchrun launches)."""

from genzoo.cli import main

if __name__ == "__main__":
    main()
