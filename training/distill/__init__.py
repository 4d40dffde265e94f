"""Distilling a multilingual CLIPPO-Lite student from teachers we can install (issue 9).

sources (data + held-out rules), teachers, targets (cached teacher arrays), curriculum (batches),
student (the pixel encoder), train (losses, embedder), run (the resumable loop, CLI), eval.
Imports torch; the app never imports this package.
"""
