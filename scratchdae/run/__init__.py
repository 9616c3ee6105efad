r"""The machinery of a run, beneath the training loop in :mod:`scratchdae.loop`.

The loop reads top to bottom because what must be thorough lives here, each
in a module named for what it does:

config   TrainConfig: every setting of a run, its help text, its checks
folder   the run folder: a new one's name, what a new run must not replace, the history file, Ctrl-C
resume   checkpoint.npz: what it holds, how it is checked, and the state a run continues from
"""
