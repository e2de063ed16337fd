"""The `deepkit` sub-commands, one module each: `add_arguments(parser)` and `run(args)`.

Commands are thin: they parse, call the library and print. They import the library (and so
TensorFlow) only inside `run`, so `deepkit --help` and input errors stay fast.
"""
