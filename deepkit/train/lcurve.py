"""lcurve.out: one row per disp_freq steps, DeePMD-kit's columns."""

from __future__ import annotations

from pathlib import Path

from deepkit.atomic_file import write_atomic


class LearningCurve:
    """Columns: step, then rmse_val/rmse_trn pairs of each metric (trn only without
    validation data), then lr. Flushed after every row. Appends on restart (append), after
    dropping the rows past after_step, the restart's step: a run killed after its last
    checkpoint wrote them, and the restart writes those steps again."""

    def __init__(
        self, path: Path, metrics: list[str], validation: bool, append: bool, after_step: int = 0
    ):
        self.metrics, self.validation = metrics, validation
        new = not (append and path.is_file())
        if not new:
            _drop_rows_after(path, after_step)
        self.file = open(path, "w" if new else "a", buffering=1)  # noqa: SIM115 - kept open
        if new:
            cols = [f"{'step':>7}"]
            for m in metrics:
                cols += (
                    [f"{m + '_val':>11}", f"{m + '_trn':>11}"]
                    if validation
                    else [f"{m + '_trn':>11}"]
                )
            self.file.write("#" + " ".join(cols) + f" {'lr':>10}\n")

    def write(self, step: int, train: dict, valid: dict | None, lr: float) -> None:
        cols = [f"{step:8d}"]
        for m in self.metrics:
            if self.validation:
                cols.append(f"{valid[m]:11.2e}")
            cols.append(f"{train[m]:11.2e}")
        self.file.write(" ".join(cols) + f" {lr:10.1e}\n")

    def close(self) -> None:
        self.file.close()


def _drop_rows_after(path: Path, step: int) -> None:
    """Keep the comment lines and the rows up to `step`; a last row cut short by a kill
    goes too. Rewritten atomically, only when something goes."""
    lines = path.read_text().splitlines(keepends=True)
    complete = lines if not lines or lines[-1].endswith("\n") else lines[:-1]
    kept = [line for line in complete if _row_step(line) <= step]
    if len(kept) != len(lines):
        write_atomic(path, "".join(kept))


def _row_step(line: str) -> int:
    """The step of a row; -1 for a comment or anything else."""
    first = line.split(maxsplit=1)[0] if line.strip() else ""
    return int(first) if first.isdigit() else -1
