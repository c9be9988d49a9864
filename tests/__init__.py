"""The test suite: a package, so tests import shared helpers from :mod:`tests.helpers`."""
