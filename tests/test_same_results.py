"""The speed tricks (in-place activations, a four-pass sigmoid, the loss"s row sums, the optimizer"s
pieces shared among threads) change no result beyond float32 rounding: small runs give the loss
curves recorded before them, to a relative 1e-5. A real change of maths (another order of noise,
another rule) moves these curves by far more."""
import pytest

from scratchdae import train

# (train loss, validation loss) per epoch, recorded with the code as it was before the tricks
RECORDED = {
    "(1000,)": [[3036.190649, 1545.578247], [1253.547203, 1058.699463], [840.834544, 734.335876]],
    "(512, 128)": [[3757.858225, 1929.731689], [1703.218481, 1543.752197], [1330.328682, 1211.815186]],
    "bernoulli": [[486.771, 405.974365], [346.319515, 294.345306]],
    "sgd-tanh-tied": [[10076.20875, 8706.859375], [8492.790621, 8623.744141]],
}
RUNS = {
    "(1000,)": dict(hidden=(1000,), epochs=3, seed=0),
    "(512, 128)": dict(hidden=(512, 128), epochs=3, seed=0),
    "bernoulli": dict(hidden=(64,), epochs=2, seed=1, loss="bernoulli", noise="masking:0.3", activation="sigmoid"),
    "sgd-tanh-tied": dict(hidden=(64,), epochs=2, seed=2, optimizer="sgd", lr=0.05, activation="tanh", tied=True),
}


@pytest.mark.parametrize("name", sorted(RUNS))
def test_loss_curves_match_those_recorded_before_the_speed_tricks(tmp_path, name):
    run = train(out=tmp_path / "r", max_train=1000, quiet=True, figures=False, **RUNS[name])
    got = [value for h in run.history for value in (h["train_loss"], h["val_loss"])]
    assert got == pytest.approx([value for pair in RECORDED[name] for value in pair], rel=1e-5)
