"""`python -m bench`: run every benchmark."""
from bench import staff_pages

if __name__ == "__main__":
    staff_pages.main()
