//! The OpenFeature provider (feature `openfeature`), through OpenFeature's own API: a client
//! asks, the provider answers from flags.example's production bundle, or from a watcher that
//! picks up a newly published one.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use flagstone::eval::watch::{Options, Watcher};
use flagstone::eval::{Evaluator, Reason};
use flagstone::exposure::{Config, Recorder};
use flagstone::openfeature::Provider;
use open_feature::{
    Client, EvaluationContext, EvaluationContextFieldValue, EvaluationErrorCode, EvaluationReason,
    FlagMetadataValue, OpenFeature, StructValue, Value,
};

use crate::support::build::build_dir;
use crate::support::{copy_dir, root, run};

fn production() -> Arc<Evaluator> {
    let bundles = build_dir(&root().join("flags.example")).expect("flags.example builds");
    let production = bundles
        .into_iter()
        .find(|b| b.environment == "production")
        .unwrap();
    Arc::new(Evaluator::from_bundle(production).unwrap())
}

/// A client of a provider registered under `name`: the registry is the process's, and each
/// test uses a name of its own.
async fn client(name: &str, provider: Provider) -> Client {
    let mut api = OpenFeature::singleton_mut().await;
    api.set_named_provider(name, provider).await;
    api.create_named_client(name)
}

fn text(value: &str) -> FlagMetadataValue {
    FlagMetadataValue::String(value.to_owned())
}

fn user(country: &str) -> EvaluationContext {
    EvaluationContext::default()
        .with_targeting_key("user-7")
        .with_custom_field("country", country)
}

/// An organisation as a nested structure, as docs/openfeature.md shows.
fn org(id: &str, region: &str) -> EvaluationContextFieldValue {
    EvaluationContextFieldValue::new_struct(
        StructValue::default()
            .with_field("id", id)
            .with_field("region", region),
    )
}

#[tokio::test]
async fn every_type_answers_with_value_variant_reason_and_metadata() {
    let evaluator = production();
    let hash = evaluator.hash().to_owned();
    let client = client("every-type", Provider::new(evaluator)).await;

    // A boolean, by a rule.
    let details = client
        .get_bool_details("billing/payment-service-v2", Some(&user("US")), None)
        .await
        .unwrap();
    assert!(details.value);
    assert_eq!(details.variant.as_deref(), Some("on"));
    assert_eq!(details.reason, Some(EvaluationReason::TargetingMatch));
    let metadata = &details.flag_metadata.values;
    assert_eq!(metadata["bundle"], text(&hash));
    assert_eq!(metadata["environment"], text("production"));
    assert_eq!(metadata["rule"], text("migrated-countries"));
    assert_eq!(metadata.len(), 3, "{metadata:?}");

    // The fallthrough.
    let details = client
        .get_bool_details("billing/payment-service-v2", Some(&user("DE")), None)
        .await
        .unwrap();
    assert_eq!(
        (details.value, details.variant.as_deref(), details.reason),
        (false, Some("off"), Some(EvaluationReason::Default))
    );

    // A string; a right-to-left locale gets Chromium.
    let context = user("DE").with_custom_field("locale", "ar-SA");
    let details = client
        .get_string_details("billing/invoice-renderer", Some(&context), None)
        .await
        .unwrap();
    assert_eq!(details.value, "chromium-headless-131");
    assert_eq!(details.variant.as_deref(), Some("chromium"));
    assert_eq!(
        details.flag_metadata.values["rule"],
        text("right-to-left-locales")
    );

    // An integer, and the same flag as a float. `org.id` as a dotted field and as a member of
    // a structure are the same attribute.
    let free = user("DE")
        .with_custom_field("org.id", "org_1")
        .with_custom_field("plan", "free");
    let details = client
        .get_int_details("api/rate-limit", Some(&free), None)
        .await
        .unwrap();
    assert_eq!(
        (details.value, details.variant.as_deref()),
        (120, Some("free"))
    );
    assert_eq!(details.flag_metadata.values["rule"], text("free-plan"));
    let pro = user("DE")
        .with_custom_field("org", org("org_1", "us-east"))
        .with_custom_field("plan", "pro")
        .with_custom_field("seats", 5);
    let details = client
        .get_float_details("api/rate-limit", Some(&pro), None)
        .await
        .unwrap();
    assert_eq!(
        (details.value, details.variant.as_deref(), details.reason),
        (600.0, Some("standard"), Some(EvaluationReason::Default))
    );
    let anonymous = client
        .get_int_value("api/rate-limit", Some(&user("DE")), None)
        .await
        .unwrap();
    assert_eq!(anonymous, 30);

    // A structure, by the organisation's region.
    let eu = user("DE").with_custom_field("org", org("org_2", "eu-west"));
    let details = client
        .get_struct_details::<StructValue>("ai/assistant-model", Some(&eu), None)
        .await
        .unwrap();
    assert_eq!(details.variant.as_deref(), Some("large-eu"));
    assert_eq!(details.reason, Some(EvaluationReason::TargetingMatch));
    assert_eq!(
        details.value,
        StructValue::default()
            .with_field("model", "acme-chat-large-2-eu")
            .with_field("temperature", 0.2)
            .with_field("prompt_version", "assistant-v7")
            .with_field("max_output_tokens", 1500)
    );
    let details = client
        .get_struct_details::<StructValue>("growth/onboarding-checklist", Some(&eu), None)
        .await
        .unwrap();
    assert_eq!(details.value.fields["steps"], Value::Array(Vec::new()));
    assert_eq!(
        details.flag_metadata.values["experiment"],
        text("growth/onboarding-checklist")
    );

    // Killed, and a prerequisite not met: the off variant, DISABLED.
    let details = client
        .get_bool_details("search/typeahead", Some(&user("US")), None)
        .await
        .unwrap();
    assert_eq!(
        (details.value, details.reason),
        (false, Some(EvaluationReason::Disabled))
    );
    let details = client
        .get_bool_details("checkout/one-page", Some(&user("DE")), None)
        .await
        .unwrap();
    assert_eq!(
        (details.value, details.reason),
        (false, Some(EvaluationReason::Disabled))
    );
    assert_eq!(
        details.flag_metadata.values["prerequisite"],
        text("billing/payment-service-v2")
    );
}

#[tokio::test]
async fn unknown_flags_and_other_types_are_errors_with_their_codes() {
    let client = client("errors", Provider::new(production())).await;
    let error = client
        .get_bool_details("billing/no-such-flag", Some(&user("US")), None)
        .await
        .unwrap_err();
    assert_eq!(error.code, EvaluationErrorCode::FlagNotFound);
    assert_eq!(
        error.message.as_deref(),
        Some("unknown flag `billing/no-such-flag`")
    );

    let error = client
        .get_bool_details("api/rate-limit", Some(&user("US")), None)
        .await
        .unwrap_err();
    assert_eq!(error.code, EvaluationErrorCode::TypeMismatch);
    assert_eq!(
        error.message.as_deref(),
        Some("flag `api/rate-limit` serves variant `anonymous`, an integer, not a boolean")
    );
    for result in [
        client
            .get_int_details("ai/assistant-model", None, None)
            .await
            .map(|_| ()),
        client
            .get_string_details("api/rate-limit", None, None)
            .await
            .map(|_| ()),
        client
            .get_struct_details::<StructValue>("billing/invoice-renderer", None, None)
            .await
            .map(|_| ()),
    ] {
        assert_eq!(result.unwrap_err().code, EvaluationErrorCode::TypeMismatch);
    }
    // The default value, as OpenFeature gives it on an error.
    assert!(
        client
            .get_bool_value("billing/no-such-flag", None, None)
            .await
            .is_err()
    );

    struct Opaque;
    let context =
        user("US").with_custom_field("blob", EvaluationContextFieldValue::new_struct(Opaque));
    let error = client
        .get_bool_details("billing/payment-service-v2", Some(&context), None)
        .await
        .unwrap_err();
    assert_eq!(error.code, EvaluationErrorCode::InvalidContext);
}

/// growth/onboarding-checklist's split, for new self-serve web sign-ups, behind its
/// experiment's holdout and layer slice.
fn sign_up(unit: &str) -> EvaluationContext {
    let signed_up = time::OffsetDateTime::from_unix_timestamp(1_796_203_800).unwrap();
    EvaluationContext::default()
        .with_targeting_key(unit)
        .with_custom_field("signup_at", signed_up)
        .with_custom_field("plan", "free")
        .with_custom_field("platform", "web")
}

#[tokio::test]
async fn a_split_and_an_experiment_exclusion_are_splits() {
    let evaluator = production();
    let json = |unit: &str| {
        serde_json::json!({"targeting_key": unit, "signup_at": "2026-12-02T09:30:00.000Z",
            "plan": "free", "platform": "web"})
    };
    let flag = "growth/onboarding-checklist";
    let find = |excluded: bool| {
        (0..1000)
            .map(|i| format!("user-{i}"))
            .find(|unit| {
                let context = json(unit);
                let reason = evaluator.evaluate(flag, &context, 0).unwrap().reason;
                match reason {
                    Reason::Excluded { .. } => excluded,
                    Reason::Rule { .. } => !excluded,
                    _ => false,
                }
            })
            .unwrap()
    };
    let (matched, excluded) = (find(false), find(true));
    let client = client("split", Provider::new(Arc::clone(&evaluator))).await;
    for (unit, reason) in [
        (matched, EvaluationReason::Split),
        (excluded, EvaluationReason::Split),
    ] {
        let details = client
            .get_struct_details::<StructValue>(flag, Some(&sign_up(&unit)), None)
            .await
            .unwrap();
        let expected = evaluator.evaluate(flag, &json(&unit), 0).unwrap();
        assert_eq!(details.variant.as_deref(), Some(expected.variant), "{unit}");
        assert_eq!(details.reason, Some(reason), "{unit}");
        assert_eq!(details.flag_metadata.values["rule"], text("new-signups"));
    }
}

#[tokio::test]
async fn values_served_are_recorded_as_exposures() {
    let evaluator = production();
    let (recorder, exposures) = Recorder::to_channel(Config::default());
    let provider = Provider::new(Arc::clone(&evaluator)).with_recorder(Arc::new(recorder));
    let client = client("exposures", provider).await;
    for _ in 0..2 {
        let served = client
            .get_bool_value("billing/payment-service-v2", Some(&user("US")), None)
            .await;
        assert_eq!(served, Ok(true));
    }
    // A type mismatch serves the caller's default: no exposure.
    let mismatch = client
        .get_string_value("billing/payment-service-v2", Some(&user("CA")), None)
        .await;
    assert!(mismatch.is_err());
    let recorded: Vec<_> = exposures.try_iter().collect();
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    let exposure = &recorded[0];
    assert_eq!(
        (
            exposure.flag.as_str(),
            exposure.variant.as_str(),
            exposure.unit.as_str(),
            exposure.rule.as_deref(),
            exposure.bundle.as_str()
        ),
        (
            "billing/payment-service-v2",
            "on",
            "user-7",
            Some("migrated-countries"),
            evaluator.hash()
        )
    );
}

/// A copy of flags.example built into `out` and published into `published`.
fn build_and_publish(site: &Path, now: &str) {
    let (code, stdout, stderr) = run(
        &[
            "build",
            "--dir",
            "flags",
            "--out",
            "out",
            "--now",
            "2026-11-26",
        ],
        site,
    );
    assert_eq!((code, stderr.as_str()), (0, ""), "{stdout}");
    let (code, stdout, stderr) = run(
        &[
            "publish",
            "--bundles",
            "out",
            "--publish-dir",
            "published",
            "--now",
            now,
        ],
        site,
    );
    assert_eq!((code, stderr.as_str()), (0, ""), "{stdout}");
}

#[tokio::test]
async fn a_watching_provider_serves_a_newly_published_bundle() {
    let site = crate::support::tempdir();
    copy_dir(&root().join("flags.example"), &site.path().join("flags"));
    build_and_publish(site.path(), "2026-11-26T12:00:00Z");
    // Polled only when asked, so that the test decides when the new bundle arrives.
    let watcher = Watcher::open(
        site.path().join("published"),
        "production",
        Options {
            interval: Duration::from_secs(3600),
        },
    )
    .unwrap();
    let watcher = Arc::new(watcher);
    let client = client("watching", Provider::watching(Arc::clone(&watcher))).await;
    let flag = "billing/payment-service-v2";
    let details = client
        .get_bool_details(flag, Some(&user("US")), None)
        .await
        .unwrap();
    assert_eq!(
        (details.value, details.reason),
        (true, Some(EvaluationReason::TargetingMatch))
    );
    let first = details.flag_metadata.values["bundle"].clone();

    let (code, stdout, stderr) = run(
        &[
            "kill",
            flag,
            "--env",
            "production",
            "--dir",
            "flags",
            "--now",
            "2026-11-26",
        ],
        site.path(),
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    build_and_publish(site.path(), "2026-11-26T13:00:00Z");
    let status = watcher.refresh();
    assert!(status.error.is_none(), "{:?}", status.error);
    assert_eq!(status.reloads, 1);

    let details = client
        .get_bool_details(flag, Some(&user("US")), None)
        .await
        .unwrap();
    assert_eq!(
        (details.value, details.reason),
        (false, Some(EvaluationReason::Disabled))
    );
    assert_eq!(
        details.flag_metadata.values["bundle"],
        text(&status.serving.hash)
    );
    assert_ne!(details.flag_metadata.values["bundle"], first);
}

// The example of docs/openfeature.md, verbatim between the markers (a test compares them).
async fn docs_example(published_dir: &Path) -> Result<(), Box<dyn std::error::Error>> {
    // example start
    use std::sync::Arc;

    use flagstone::eval::watch::{Options, Watcher};
    use flagstone::openfeature::Provider;
    use open_feature::{EvaluationContext, EvaluationContextFieldValue, OpenFeature, StructValue};

    // Once, at start-up: serve what `flagstone publish` makes live in the directory. Keep the
    // watcher for health checks (`watcher.status()`).
    let watcher = Arc::new(Watcher::open(
        published_dir,
        "production",
        Options::default(),
    )?);
    let provider = Provider::watching(Arc::clone(&watcher));
    OpenFeature::singleton_mut()
        .await
        .set_provider(provider)
        .await;
    let client = OpenFeature::singleton().await.create_client();

    // Per request: the targeting key is flagstone's `targeting_key`; nested attributes
    // (`org.region`) are structures, or dotted field names.
    let org = StructValue::default().with_field("region", "eu-west");
    let context = EvaluationContext::default()
        .with_targeting_key("user-7")
        .with_custom_field("country", "US")
        .with_custom_field("org", EvaluationContextFieldValue::new_struct(org));

    // The value, or the default on any error…
    let v2 = client
        .get_bool_value("billing/payment-service-v2", Some(&context), None)
        .await
        .unwrap_or(false);
    // …or the details: variant, reason, and the bundle, environment and rule in the metadata.
    let model = client
        .get_struct_details::<StructValue>("ai/assistant-model", Some(&context), None)
        .await;
    if let Ok(details) = &model {
        println!("{:?} {:?}", details.variant, details.reason);
    }
    // example end
    assert!(v2);
    assert_eq!(model.unwrap().variant.as_deref(), Some("large-eu"));
    Ok(())
}

#[tokio::test]
async fn the_docs_example_is_this_code_and_runs() {
    crate::support::assert_docs_example(
        include_str!("test_openfeature_provider.rs"),
        "tests/test_openfeature_provider.rs",
        "docs/openfeature.md",
    );

    let site = crate::support::tempdir();
    copy_dir(&root().join("flags.example"), &site.path().join("flags"));
    build_and_publish(site.path(), "2026-11-26T12:00:00Z");
    docs_example(&site.path().join("published")).await.unwrap();
}
