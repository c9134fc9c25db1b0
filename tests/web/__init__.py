"""Tests of the lite web pages in a real browser (headless Chromium), with axe-core and v.Nu."""
