// Compiles the shared precompiled <torch/torch.h> once; every nn/ translation unit reuses it.
