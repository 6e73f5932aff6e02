"""Data intake: file formats and validation, column roles, row-to-text encoding, bundled samples and benchmarks."""
from core.data.benchmarks import BENCHMARKS, benchmark_names, load_benchmark
from core.data.dataset import Dataset
from core.data.encode import row_to_text, rows_to_texts
from core.data.intake import dataset_from_frame, load_dataset, read_frame
from core.data.roles import decide_kind, infer_roles
from core.data.samples import SAMPLES, Sample, load_sample
from core.errors import IntakeError

__all__ = [
    "BENCHMARKS",
    "Dataset",
    "IntakeError",
    "SAMPLES",
    "Sample",
    "benchmark_names",
    "dataset_from_frame",
    "decide_kind",
    "infer_roles",
    "load_benchmark",
    "load_dataset",
    "load_sample",
    "read_frame",
    "row_to_text",
    "rows_to_texts",
]
