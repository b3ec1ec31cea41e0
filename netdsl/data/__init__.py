"""Data — images and labels for training, calibration and inference, no torch.

`images` reads one image or array into pixels (the one list of image suffixes); `sources` turns a
source named on the command line (`digits`, a folder, a manifest, `ordinal-synth:…`) into
train / validation / test splits; `synth` generates the ordinal counting benchmark.

In: a source name or file. Out: numpy arrays. May import: `netdsl.core`, numpy, Pillow, scikit-learn.
"""
