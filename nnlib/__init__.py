"""nnlib: the neural-network library that the book *Neural Networks from Scratch* builds, chapter by chapter.

Every module except this one is generated from a chapter notebook in ``book/`` by ``nbdev-export``;
edit the chapter, not the module.
"""
__version__ = "0.1.0"
