"""`python -m mural` runs the command line."""

from mural.cli import main

if __name__ == "__main__":
    main()
