"""python -m nnlib_teach assign [CHAPTER ...] [--out DIR]  |  python -m nnlib_teach grade SUBMISSIONS [...]"""

from __future__ import annotations

import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nnlib_teach",
                                     description="Student versions of the chapters, and grading with hidden tests.")
    sub = parser.add_subparsers(dest="command", required=True)
    a = sub.add_parser("assign", help="write student notebooks (solutions replaced by stubs, outputs cleared)")
    a.add_argument("chapters", nargs="*", help="e.g. 3 or 03_activations (default: every chapter with blanks)")
    a.add_argument("--out", default="student", help="output folder (default: student/)")
    g = sub.add_parser("grade", help="run the hidden tests on submitted notebooks and write CSV scores")
    g.add_argument("submissions", help="folder with one subfolder per student holding <chapter>.ipynb files")
    g.add_argument("--tests", default=str(ROOT / "teach" / "hidden"), help="folder of hidden tests, <chapter>.py")
    g.add_argument("--out", default="grades.csv", help="scores per student and exercise (default: grades.csv)")
    g.add_argument("--timeout", type=int, default=300, help="seconds per notebook (default: 300)")
    args = parser.parse_args(argv)

    if args.command == "assign":
        from nnlib_teach.assign import assign

        for path, blanks in assign(args.chapters, args.out):
            print(f"{path}: {blanks} blank{'s' * (blanks != 1)}")
        return 0
    from nnlib_teach.grade import grade

    details = grade(args.submissions, args.tests, args.out, args.timeout)
    if details.empty:
        print(f"no submissions graded under {args.submissions} (expected <student>/<chapter>.ipynb)")
        return 1
    per_student = details.groupby("student")[["points", "max_points"]].sum()
    for student, row in per_student.iterrows():
        print(f"{student}: {row.points:g} / {row.max_points:g}")
    print(f"wrote {args.out} and {Path(args.out).with_name(Path(args.out).stem + '_details.csv')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
