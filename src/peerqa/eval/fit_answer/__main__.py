"""`python -m peerqa.eval.fit_answer`: the package's docstring says what it fits and how."""

from peerqa.eval.fit_answer import main

main()
