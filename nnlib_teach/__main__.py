"""python -m nnlib_teach assign [CHAPTER ...] [--out DIR]  |  python -m nnlib_teach grade SUBMISSIONS [--out CSV]"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nnlib_teach",
                                     description="Student versions of the chapters, and grading with hidden tests.")
    sub = parser.add_subparsers(dest="command", required=True)
    a = sub.add_parser("assign", help="write student notebooks (solutions replaced by stubs, outputs cleared)")
    a.add_argument("chapters", nargs="*", help="e.g. 3 or 03_activations (default: every chapter with blanks)")
    a.add_argument("--out", default="student", help="output folder (default: student/)")
    g = sub.add_parser("grade", help="run the hidden tests on submitted notebooks, in a sandbox; write CSV scores "
                                     "and one feedback file per student")
    g.add_argument("submissions", help="folder with one subfolder per student holding <chapter>.ipynb files")
    g.add_argument("--tests", default=str(ROOT / "teach" / "hidden"), help="folder of hidden tests, <chapter>.py")
    g.add_argument("--out", default="grades.csv", help="scores per student and exercise (default: grades.csv)")
    g.add_argument("--feedback", default=None, help="folder for the students' feedback files "
                                                    "(default: <out stem>_feedback/ beside --out)")
    g.add_argument("--timeout", type=float, default=300, help="seconds per notebook (default: 300)")
    g.add_argument("--test-timeout", type=float, default=60, help="seconds per hidden test (default: 60)")
    g.add_argument("--jobs", type=int, default=None, help="notebooks graded at once (default: one per core)")
    g.add_argument("--sandbox", choices=["auto", "bwrap", "process"], default=None,
                   help="isolation of the students' code (default: $NNLIB_TEACH_SANDBOX or auto: bubblewrap "
                        "when available, else process-level limits)")
    g.add_argument("--quiet", action="store_true", help="print only the summary")
    args = parser.parse_args(argv)

    if args.command == "assign":
        from nnlib_teach.assign import assign

        for path, blanks in assign(args.chapters, args.out):
            print(f"{path}: {blanks} blank{'s' * (blanks != 1)}")
        return 0

    from nnlib_teach.grade import grade, main_summary

    def progress(r):
        if not args.quiet:
            name = "".join(ch if ch.isprintable() else "?" for ch in r.student)
            got, most = sum(t.points for t in r.tests), sum(t.max_points for t in r.tests)
            print(f"  {name} / {r.chapter}: {got:g} / {most:g}" + (f" (not graded: {r.error})" if r.error else ""),
                  file=sys.stderr, flush=True)

    try:
        run = grade(args.submissions, args.tests, args.out, args.timeout, jobs=args.jobs, sandbox=args.sandbox,
                    feedback_dir=args.feedback, test_timeout=args.test_timeout, progress=progress)
    except (FileNotFoundError, RuntimeError, ValueError) as err:
        print(f"python -m nnlib_teach grade: {err}", file=sys.stderr)
        return 2
    if run.students == 0:
        print(f"no student folders under {args.submissions} (expected <student>/<chapter>.ipynb)", file=sys.stderr)
    main_summary(run)
    if run.exit_status == 1:
        print("some notebooks could not be graded: see the notes column", file=sys.stderr)
    return run.exit_status


if __name__ == "__main__":
    raise SystemExit(main())
