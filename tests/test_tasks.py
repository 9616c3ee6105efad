"""What a data set gives the training loop: rows prepared from IDX files a block at a time."""
import numpy as np
import pytest

from scratchdae import prepare_images
from scratchdae.data import write_idx
from scratchdae.tasks import prepare_rows, split_train_val


@pytest.mark.parametrize("block", [1, 7, 64, 1000])
def test_rows_prepared_a_block_at_a_time_are_the_rows_of_the_whole_file(tmp_path, block):
    images = np.random.default_rng(0).integers(0, 256, (150, 6, 5), dtype=np.uint8)
    path = write_idx(tmp_path / "train-images-idx3-ubyte.gz", images)
    tr, va = split_train_val(120, 0.1, seed=3)  # as with max_train=120: the last 30 images unused
    X, X_val = prepare_rows(path, [tr, va], block)
    for rows, got in ((tr, X), (va, X_val)):
        assert got.dtype == np.float32 and got.shape == (len(rows), 30)
        np.testing.assert_array_equal(got, prepare_images(images[rows]))


def test_a_split_with_no_rows_in_a_block_is_fine(tmp_path):
    path = write_idx(tmp_path / "x", np.full((10, 2, 2), 255, np.uint8))
    X, empty = prepare_rows(path, [np.array([0, 9]), np.array([], dtype=np.int64)], block=3)
    assert X.shape == (2, 4) and (X == 1).all() and empty.shape == (0, 4)


@pytest.mark.parametrize("rows", [[0, 10], [-1, 0], [3, 1], np.array([True, False]), [[0, 1]]])
def test_rows_out_of_range_unsorted_or_not_indices_are_refused(tmp_path, rows):
    # garbage rows would come back silently (the rows are made with np.empty): refuse them instead
    path = write_idx(tmp_path / "x", np.zeros((10, 2, 2), np.uint8))
    with pytest.raises(ValueError, match="image indices from 0 to 9, sorted"):
        prepare_rows(path, [np.asarray(rows)])
