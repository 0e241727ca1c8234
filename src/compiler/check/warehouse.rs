//! The check of `[warehouse]` in flagstone.toml: table names `flagstone sql` can quote.

use crate::diag::Code;
use crate::model::{Warehouse, valid_table_name};

use super::Scope;

impl Scope<'_> {
    pub(super) fn warehouse(&mut self, file: &str, warehouse: &Warehouse) {
        for (key, name) in [
            ("exposures", &warehouse.exposures),
            ("events", &warehouse.events),
        ] {
            if !valid_table_name(name) {
                self.push(
                    Code::BadTableName,
                    file,
                    name.span(),
                    format!("`{}` is not a table name ([warehouse] {key})", name.value),
                )
                .help = Some(
                    "one to three parts joined by dots, e.g. \"analytics.exposures\": each starts with an ASCII letter or `_` and continues with letters, digits, `_` or `-`"
                        .into(),
                );
            }
        }
    }
}
