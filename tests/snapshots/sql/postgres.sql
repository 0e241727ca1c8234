-- The per-variant summary of experiment growth/onboarding-checklist in production (docs/raw-data.md), for
-- `flagstone analyze --summary`. Written by `flagstone sql`.
WITH flagstone_assigning AS (
  SELECT "unit" AS unit_key, "time" AS exposed_at, CASE "variant" WHEN 'checklist' THEN 0 WHEN 'control' THEN 1 WHEN 'guided-tour' THEN 2 END AS arm
  FROM "analytics"."flag_exposures"
  WHERE "flag" = 'growth/onboarding-checklist'
    AND "environment" = 'production'
    AND "experiment" = 'growth/onboarding-checklist'
    AND "reason" = 'rule'
    AND "rule" IN ('new-signups')
    AND "variant" IN ('checklist', 'control', 'guided-tour')
    AND "time" >= TIMESTAMPTZ '2026-12-01 00:00:00.000+00:00'
    AND "time" < TIMESTAMPTZ '2027-01-13 00:00:00.000+00:00'
),
flagstone_units AS (
  SELECT unit_key, MIN(arm) AS unit_arm, MIN(exposed_at) AS t0
  FROM flagstone_assigning
  GROUP BY unit_key
  HAVING MIN(arm) = MAX(arm)
),
flagstone_events AS (
  SELECT "unit" AS event_unit,
    "time" AS event_at,
    "event" AS event_name
  FROM "analytics"."product_events"
  WHERE "event" IN ('dashboard_created', 'query_run', 'session_started', 'support_ticket_opened')
    AND "time" >= TIMESTAMPTZ '2026-11-17 00:00:00.000+00:00'
    AND "time" < TIMESTAMPTZ '2027-01-27 00:00:00.000+00:00'
),
flagstone_per_unit AS (
  SELECT unit_arm,
    MAX(CASE WHEN event_name = 'dashboard_created' AND event_at >= t0 AND event_at < t0 + INTERVAL '10080 minutes' THEN 1 ELSE 0 END) AS c0,
    SUM(CASE WHEN event_name = 'dashboard_created' AND event_at >= t0 AND event_at < t0 + INTERVAL '20160 minutes' THEN 1 ELSE 0 END) AS c1,
    SUM(CASE WHEN event_name = 'query_run' AND event_at >= t0 AND event_at < t0 + INTERVAL '20160 minutes' THEN 1 ELSE 0 END) AS c2,
    SUM(CASE WHEN event_name = 'query_run' AND event_at >= t0 - INTERVAL '20160 minutes' AND event_at < t0 THEN 1 ELSE 0 END) AS c3,
    SUM(CASE WHEN event_name = 'session_started' AND event_at >= t0 AND event_at < t0 + INTERVAL '20160 minutes' THEN 1 ELSE 0 END) AS c4,
    SUM(CASE WHEN event_name = 'support_ticket_opened' AND event_at >= t0 AND event_at < t0 + INTERVAL '20160 minutes' THEN 1 ELSE 0 END) AS c5
  FROM flagstone_units
  LEFT JOIN flagstone_events ON event_unit = unit_key
  GROUP BY unit_key, unit_arm
)
SELECT CASE unit_arm WHEN 0 THEN 'checklist' WHEN 1 THEN 'control' WHEN 2 THEN 'guided-tour' END AS "variation",
  COUNT(*) AS "users",
  CAST(SUM(c0) AS BIGINT) AS "activated_7d__sum",
  CAST(SUM(c0 * c0) AS BIGINT) AS "activated_7d__sum_squares",
  CAST(SUM(c1) AS BIGINT) AS "dashboards_created_14d__sum",
  CAST(SUM(c1 * c1) AS BIGINT) AS "dashboards_created_14d__sum_squares",
  CAST(SUM(c2) AS BIGINT) AS "queries__sum",
  CAST(SUM(c2 * c2) AS BIGINT) AS "queries__sum_squares",
  CAST(SUM(c3) AS BIGINT) AS "queries.pre__sum",
  CAST(SUM(c3 * c3) AS BIGINT) AS "queries.pre__sum_squares",
  CAST(SUM(c4) AS BIGINT) AS "sessions__sum",
  CAST(SUM(c4 * c4) AS BIGINT) AS "sessions__sum_squares",
  CAST(SUM(c5) AS BIGINT) AS "support_tickets_14d__sum",
  CAST(SUM(c5 * c5) AS BIGINT) AS "support_tickets_14d__sum_squares",
  CAST(SUM(c2 * c3) AS BIGINT) AS "queries__x__queries.pre__sum_product",
  CAST(SUM(c2 * c4) AS BIGINT) AS "queries__x__sessions__sum_product"
FROM flagstone_per_unit
GROUP BY unit_arm
ORDER BY unit_arm
