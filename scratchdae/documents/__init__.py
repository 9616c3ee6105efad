r"""Dirty documents: an application built on the core, which the core never imports.

It cleans scanned pages (stains, creases, faded ink: the Kaggle Denoising
Dirty Documents task) with the core's dense DAE, one window of the page at a
time, and trains through the core's loop (:func:`scratchdae.loop.train`),
giving it its rows (:class:`scratchdae.tasks.TaskData`). Importing it
registers the ``documents`` task with the core, so that the core's commands
(``denoise``) can use its models; the core finds it through the
``scratchdae.applications`` entry point.

generate     synthetic pages in Kaggle's layout                    other_pages  a second generator, for testing
pages        pages on disk, the submission file, the baselines     filters      min/max/box filters, blur, resize
windows      from a page to windows and back (PG1), (PG3)          stacked      the cleaner: one stage or two (PG2)
training     the rows a run trains on                              config       DocumentsConfig: a run's settings
run          train_cleaner: one stage or two                       evaluate     RMSE beside the baselines
"""
from ..tasks import Application, register_application
from .config import CLEANING, GONE, TRAIN_DEFAULTS, DocumentsConfig
from .config import FIELDS as _FIELDS
from .stacked import check_model_header, denoise_pages

register_application(Application(task="documents", defaults=TRAIN_DEFAULTS, command="scratchdae documents train",
                                 settings=tuple(_FIELDS), removed=tuple(GONE), denoise=denoise_pages,
                                 cleaning=CLEANING, figures=("loss_curves.png", "pages.png"),
                                 check_model=check_model_header))

from .run import train_cleaner  # noqa: E402 (the task is registered first: a documents run's config needs it)

__all__ = ["DocumentsConfig", "train_cleaner"]
