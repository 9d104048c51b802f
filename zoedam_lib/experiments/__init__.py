"""The paper's experiments: the run context, recipes per preset, the shared train → evaluate → results
pipeline, and one module per experiment (average, DenseDepth, ZoeDAM, ZoeDAM+, SynthDA).
"""
