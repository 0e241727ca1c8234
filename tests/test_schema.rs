//! The committed JSON Schemas are exactly what the model generates.

use flagstone::schema::{FileKind, generate};

use crate::support::{assert_file, root};

#[test]
fn committed_schemas_match_the_model() {
    for kind in FileKind::ALL {
        let mut text = serde_json::to_string_pretty(&generate(kind)).unwrap();
        text.push('\n');
        assert_file(&root().join("schema").join(kind.schema_file()), &text);
    }
}
