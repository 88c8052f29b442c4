//! The results folder's format across versions: the committed fixtures (format 1, written
//! before offered rates) still load, still satisfy the schemas, and read as closed-loop
//! cells with the ids they always had; a cell with a rate writes and reads back.

mod common;
mod sweep_fixture;

use common::schema_violations;
use pgsyncbench::sweep::folder::{self, Results};
use sweep_fixture::*;

fn read(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn format_1_folders_load_as_closed_loop_sweeps_and_satisfy_the_schemas() {
    for name in ["sweep-small", "sweep-regressed", "sweep-noisy"] {
        let dir = fixture(name);
        let manifest = read(&dir.join("manifest.json"));
        assert_eq!(manifest["schema_version"], 1, "{name}");
        assert_eq!(
            schema_violations("manifest.schema.json", &manifest),
            Vec::<String>::new(),
            "{name}"
        );
        let r = load(name);
        assert!(r.manifest.plan.rates.is_empty() && r.manifest.plan.capacity.is_none());
        assert_eq!(r.cells.len(), r.manifest.order.len(), "{name}");
        for (c, id) in r.cells.iter().zip(&r.manifest.order) {
            assert_eq!(c.cell.rate, None);
            assert_eq!(&c.cell.id(), id, "ids are what they were");
            let file = read(&dir.join("cells").join(format!("{id}.json")));
            assert_eq!(
                schema_violations("cell-result.schema.json", &file),
                Vec::<String>::new(),
                "{id}"
            );
        }
        // The summary is the one committed with it: no rate columns.
        assert_eq!(
            folder::summary_csv(&r.cells),
            std::fs::read_to_string(dir.join("summary.csv")).unwrap()
        );
    }
}

#[test]
fn a_cell_at_an_offered_rate_writes_format_2_and_reads_back() {
    let mut r = load("sweep-small");
    let dir = Scratch::new("format2");
    r.manifest.schema_version = folder::SCHEMA_VERSION;
    r.manifest.plan.rates = vec![300];
    r.cells.truncate(2);
    for c in &mut r.cells {
        c.schema_version = folder::SCHEMA_VERSION;
        c.cell.rate = Some(300);
    }
    r.manifest.order = r.cells.iter().map(|c| c.cell.id()).collect();
    folder::write_manifest(&dir.0, &r.manifest).unwrap();
    for c in &r.cells {
        folder::write_cell(&dir.0, c).unwrap();
    }
    let back = Results::load(&dir.0).unwrap();
    assert_eq!(back.manifest, r.manifest);
    assert_eq!(back.cells, r.cells);
    assert!(back.manifest.order.iter().all(|id| id.ends_with("_R300")));
    let manifest = read(&dir.0.join("manifest.json"));
    assert_eq!(manifest["plan"]["rates"], serde_json::json!([300]));
    assert_eq!(
        schema_violations("manifest.schema.json", &manifest),
        Vec::<String>::new()
    );
    let cell = read(
        &dir.0
            .join("cells")
            .join(format!("{}.json", r.cells[0].cell.id())),
    );
    assert_eq!(cell["cell"]["rate"], 300);
    assert_eq!(
        schema_violations("cell-result.schema.json", &cell),
        Vec::<String>::new()
    );
    let csv = folder::summary_csv(&back.cells);
    let header = csv.lines().next().unwrap();
    assert!(
        header.ends_with(
            ",sync_standby_attached,offered_tps,skipped,schedule_lag_mean_ms,schedule_lag_p99_ms"
        ),
        "{header}"
    );
    // The fixture's cells are closed-loop runs relabelled: no schedule lag to show.
    assert!(csv.lines().nth(1).unwrap().ends_with(",300,0,,"), "{csv}");

    // A folder from a newer pgsyncbench is refused, naming the file.
    let mut newer = r.manifest.clone();
    newer.schema_version = folder::SCHEMA_VERSION + 1;
    folder::write_manifest(&dir.0, &newer).unwrap();
    let e = Results::load(&dir.0).unwrap_err().to_string();
    assert!(e.contains("manifest.json is in results format"), "{e}");
}
