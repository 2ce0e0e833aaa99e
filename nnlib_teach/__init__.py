"""Teaching tools for the book: student versions of the chapters (assign) and grading with hidden tests (grade).

See the "For teachers" page of the book (book/teaching.md). Not part of the library `nnlib`.
"""
