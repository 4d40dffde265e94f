"""Distilling CLIPPO-Lite, the multilingual offline default model, from installable teachers.

sources (data + held-out rules), teachers, corpus (shippable texts + teacher targets), concepts
(the photo branch's concept table), reader (the text branch), lite (the whole encoder + ONNX),
lite_cache, train_lite (the resumable loop, CLI), lite_eval (in-training rows), eval (the full
held-out evaluation), ship (package for resources/models), curves. Imports torch; the app
never imports this package.
"""
