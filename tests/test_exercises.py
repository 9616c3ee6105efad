"""The exercises: their tests fail on the stubs a student starts from, and pass on the model answers."""
import os
import subprocess
import sys
from pathlib import Path

EXERCISES = Path(__file__).resolve().parents[1] / "tutorials" / "exercises"


def run_exercise_tests(module):
    env = {**os.environ, "SCRATCHDAE_EXERCISES": module}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXERCISES)],
                          capture_output=True, text=True, env=env, timeout=300)


def test_the_model_answers_pass_the_exercise_tests():
    r = run_exercise_tests("solutions")
    assert r.returncode == 0 and "4 passed" in r.stdout, r.stdout[-3000:]


def test_the_stubs_fail_every_exercise_test_until_filled_in():
    r = run_exercise_tests("exercises")
    assert r.returncode == 1 and "4 failed" in r.stdout, r.stdout[-3000:]
    assert r.stdout.count("NotImplementedError") >= 4
