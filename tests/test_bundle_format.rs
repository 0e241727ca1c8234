//! Bundle format 2 as bytes: what the writer leaves out, what the reader accepts and refuses.

use flagstone::bundle::content_hash;
use flagstone::eval::{Evaluator, LoadError};
use serde_json::json;

use crate::support::root;

/// Loads bytes under their own hash: only the format can refuse them.
fn load(bytes: &[u8]) -> Result<Evaluator, String> {
    Evaluator::load(bytes, &content_hash(bytes)).map_err(|e| match e {
        LoadError::Invalid(why) => why,
        other => panic!("{other}"),
    })
}

/// A format 2 bundle with `flags`, a segment `staff` and the table `conditions`.
fn bundle(conditions: serde_json::Value, flags: serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "attributes": {"country": "string", "email": "string"},
        "conditions": conditions,
        "environment": "production",
        "flags": flags,
        "format": 2,
        "project": "acme",
        "segments": {"staff": {"c": [1]}},
    }))
    .unwrap()
}

fn table() -> serde_json::Value {
    json!([
        {"attr": "country", "op": "in", "values": ["CA", "US"]},
        {"attr": "email", "op": "ends_with", "values": ["@acme.com"]},
        {"segment": "staff"},
    ])
}

#[test]
fn a_bundle_of_another_format_is_refused_by_its_format() {
    // Format 1, as the previous version wrote the README's example.
    let v1 = br#"{"attributes":{"country":"string","email":"string"},"environment":"production","flags":{"checkout/one-page":{"bucket_by":"targeting_key","enabled":true,"fallthrough":"off","off_variant":"off","prerequisites":[],"rules":[{"conditions":[{"segment":"staff"}],"name":"staff","rollout":100000,"schedule":[],"serve":{"variant":"on"}}],"salt":"checkout/one-page","schedule":[],"variants":{"off":false,"on":true}}},"format":1,"project":"acme","segments":{"staff":{"conditions":[{"attr":"email","op":"ends_with","values":["@acme.com"]}],"exclude":[],"include":[]}}}"#;
    let expected = "bundle format 1 is not format 2, the only one this evaluator reads: build the bundle again with a flagstone of the same version";
    assert_eq!(load(v1).unwrap_err(), expected);
    // A format 2 shape that says another format.
    let mut text = String::from_utf8(bundle(table(), json!({}))).unwrap();
    text = text.replace("\"format\":2", "\"format\":3");
    assert!(
        load(text.as_bytes())
            .unwrap_err()
            .starts_with("bundle format 3 is not format 2")
    );
}

#[test]
fn defaults_are_left_out_and_spelled_out_mean_the_same() {
    let canonical = bundle(
        table(),
        json!({"checkout/one-page": {"r": [{"c": [2], "n": "staff", "s": 1}, {"c": [0], "n": "gradual", "r": 5000, "s": 1}]}}),
    );
    let spelled_out = bundle(
        table(),
        json!({"checkout/one-page": {
            "b": "targeting_key", "e": true, "f": 0, "o": 0, "p": [], "s": "checkout/one-page",
            "t": [], "v": {"off": false, "on": true},
            "r": [
                {"c": [2], "n": "staff", "r": 100000, "s": 1, "t": []},
                {"c": [0], "n": "gradual", "r": 5000, "s": [0, 1], "t": []},
            ],
        }}),
    );
    let (a, b) = (load(&canonical).unwrap(), load(&spelled_out).unwrap());
    for i in 0..2000 {
        let context = json!({"targeting_key": format!("user-{i}"), "country": "US"});
        let (x, y) = (
            a.evaluate("checkout/one-page", &context, 0).unwrap(),
            b.evaluate("checkout/one-page", &context, 0).unwrap(),
        );
        // The second rule serves `on` in one and a split of all weight on `on` in the other.
        assert_eq!((x.variant, &x.reason), (y.variant, &y.reason), "user-{i}");
    }
    // The writer's bytes for the example are the canonical ones.
    let out = crate::support::tempdir();
    let (code, _, stderr) = crate::support::run(
        &[
            "build",
            "--dir",
            "docs/examples/checkout",
            "--out",
            out.path().to_str().unwrap(),
            "--now",
            crate::support::NOW,
        ],
        &root(),
    );
    assert_eq!(code, 0, "{stderr}");
    let built = std::fs::read(
        out.path()
            .join(format!("{}.json", content_hash(&canonical))),
    );
    assert_eq!(built.unwrap(), canonical);
}

#[test]
fn a_condition_used_by_many_flags_is_in_the_table_once() {
    let repo = flagstone::load::load(&root().join("flags.example")).unwrap();
    let report = flagstone::check::check(&repo, &crate::support::options());
    for bundle in flagstone::build::all(report.checked().unwrap()) {
        let uses: usize = bundle
            .flags
            .values()
            .flat_map(|f| &f.rules)
            .map(|r| r.conditions.len())
            .sum::<usize>()
            + bundle
                .segments
                .values()
                .map(|s| s.conditions.len())
                .sum::<usize>();
        let bytes: serde_json::Value = serde_json::from_slice(&bundle.to_canonical_json()).unwrap();
        let table = bytes["conditions"].as_array().unwrap();
        let texts: Vec<String> = table.iter().map(|c| c.to_string()).collect();
        assert!(
            texts.windows(2).all(|w| w[0] < w[1]),
            "sorted without repeats"
        );
        // Production's rules test `staff` and the same countries in several flags.
        let shared = bundle.environment == "production";
        assert!(
            table.len() + usize::from(shared) <= uses,
            "{}",
            bundle.environment
        );
    }
}

#[test]
fn what_does_not_resolve_is_refused_with_its_place() {
    let flag = |f: serde_json::Value| bundle(table(), json!({ "a": f }));
    let cases = [
        (
            flag(json!({"r": [{"n": "x", "s": 2}]})),
            "flag `a`: no variant 2: the flag has 2",
        ),
        (
            flag(json!({"o": 7})),
            "flag `a`: no variant 7: the flag has 2",
        ),
        (
            flag(json!({"r": [{"c": [3], "n": "x", "s": 1}]})),
            "flag `a`: no condition 3: the table has 3",
        ),
        (
            flag(json!({"r": [{"n": "x", "s": [100000]}]})),
            "flag `a`: a split has 1 weights for 2 variants",
        ),
        (
            flag(json!({"r": [{"n": "x", "s": [0, 0]}]})),
            "flag `a`: a split needs a positive total weight",
        ),
        (
            flag(json!({"r": [{"n": "x", "r": 100001, "s": 1}]})),
            "flag `a`: rollout 100001 exceeds 100000",
        ),
        (
            flag(json!({"p": [["b", "on"]]})),
            "flag `a`: unknown prerequisite `b` = `on`",
        ),
        (
            flag(json!({"t": [{"at": 2, "e": false}, {"at": 1, "e": true}]})),
            "flag `a`: schedule steps are not in time order",
        ),
        (
            bundle(json!([{"segment": "nobody"}]), json!({})),
            "condition 0: unknown segment `nobody`",
        ),
        (
            bundle(
                json!([{"attr": "plan", "op": "in", "values": ["x"]}]),
                json!({}),
            ),
            "condition 0: undeclared attribute `plan`",
        ),
    ];
    for (bytes, expected) in cases {
        assert_eq!(load(&bytes).unwrap_err(), expected);
    }
}

#[test]
fn keys_out_of_order_or_repeated_are_refused() {
    let text = String::from_utf8(bundle(table(), json!({"a": {}, "b": {}}))).unwrap();
    let swapped = text.replace(r#""a":{},"b":{}"#, r#""b":{},"a":{}"#);
    assert!(
        load(swapped.as_bytes())
            .unwrap_err()
            .contains("key `a` is out of order or repeated")
    );
    let repeated = text.replace(r#""a":{},"b":{}"#, r#""a":{},"a":{}"#);
    assert!(
        load(repeated.as_bytes())
            .unwrap_err()
            .contains("key `a` is out of order or repeated")
    );
    let unsorted = bundle(table(), json!({}))
        .iter()
        .map(|&b| b as char)
        .collect::<String>()
        .replace(
            r#""staff":{"c":[1]}"#,
            r#""staff":{"c":[1],"in":["b","a"]}"#,
        );
    assert_eq!(
        load(unsorted.as_bytes()).unwrap_err(),
        "segment `staff`: `in` is not sorted without repeats"
    );
}
