"""Parsing the seed's claims: its "Bottom Line" and "Success Metrics" tables and its scenario numbers."""

import hashlib
from pathlib import Path

from loadtest.migration_diff import seed

ROOT = Path(__file__).resolve().parents[2]

SEED = """
# Title

## 📊 Other section

| Not | Quoted |
|-----|--------|
| a | b |

## 📈 Success Metrics

### Traditional Microservices Migration (Direct Calls)

| Metric | Result |
|--------|--------|
| Code churn | 50,000+ lines changed |
| Files modified | 500+ files |

### Event-Driven Migration

| Metric | Result |
|--------|--------|
| Code churn | 500 lines changed |
| Files modified | 5-10 files |

## ✅ The Bottom Line

| Aspect | Without Events | With Events | Difference |
|--------|---------------|-------------|------------|
| **Time** | 2-3 months | 1-2 weeks | **10x faster** |
| **Code Changes** | 500+ files | 1-2 files | **250x less work** |

```typescript
// ... 50+ more service calls to update
```
"""


def test_only_the_bottom_line_and_success_metrics_tables_are_read_with_their_headings(tmp_path):
    path = tmp_path / "seed.txt"
    path.write_text(SEED)
    _, tables = seed.load(path)
    assert [(t.section, t.subsection) for t in tables] == [
        ("Success Metrics", "Traditional Microservices Migration (Direct Calls)"),
        ("Success Metrics", "Event-Driven Migration"),
        ("The Bottom Line", ""),
    ]
    assert tables[0].header == ["Metric", "Result"]
    assert tables[0].rows == [["Code churn", "50,000+ lines changed"], ["Files modified", "500+ files"]]
    assert tables[2].rows[1] == ["Code Changes", "500+ files", "1-2 files", "250x less work"]  # bold removed
    assert SEED.splitlines()[tables[2].line - 1].startswith("| Aspect")


def test_the_scenario_numbers_come_from_the_seed_text():
    text = SEED
    s = seed.scenario(text, seed.tables(text))
    assert (s.operations, s.direct_lines, s.direct_files, s.event_lines, s.event_files) == (50, 50000, 500, 500, (5, 10))
    assert s.operations_quote == "// ... 50+ more service calls to update"
    assert s.direct_lines_quote == "Code churn | 50,000+ lines changed"


def test_numbers_and_ranges_are_read_from_cells():
    assert seed.number("50,000+ lines changed") == 50000
    assert seed.number("Very difficult") is None
    assert seed.number_range("5-10 files") == (5, 10)
    assert seed.number_range("500 lines") == (500, 500)


def test_the_committed_copy_is_the_seed_and_has_every_row():
    copy = ROOT / seed.DEFAULT_SEED
    source = (ROOT / "results" / "seed" / "SOURCE.md").read_text()
    assert hashlib.sha256(copy.read_bytes()).hexdigest() in source
    _, tables = seed.load(copy)
    assert [len(t.rows) for t in tables] == [7, 7, 6]
    assert [r[0] for r in tables[2].rows] == ["Time", "Cost", "Risk", "Code Changes", "Bugs", "Rollback"]
