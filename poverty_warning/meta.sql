-- The pipeline's own tables (everything else in the warehouse is a dbt model or a raw view).
-- Created by poverty_warning.warehouse.create_tables on every connection; each statement is idempotent.
CREATE SCHEMA IF NOT EXISTS meta;
CREATE SCHEMA IF NOT EXISTS risk;

-- ingest: one row per landed feed file, and the keys later batches are checked against
CREATE TABLE IF NOT EXISTS meta.landed_files (
    feed VARCHAR, file VARCHAR, sha256 VARCHAR, delivery_date DATE, night DATE,
    rows_received INTEGER, rows_loaded INTEGER, rows_quarantined INTEGER,
    lake_path VARCHAR, quarantine_path VARCHAR, PRIMARY KEY (file, sha256));
-- (known persons by their keyed hash, contract.ids.person_key: the resident ID stays in the lake)
CREATE TABLE IF NOT EXISTS meta.person_keys (person_key VARCHAR);
CREATE TABLE IF NOT EXISTS meta.claim_keys (claim_id VARCHAR, reversal_of VARCHAR, cents BIGINT[]);

-- validate: the night's verdict, and each expectation's result
CREATE TABLE IF NOT EXISTS meta.batch_checks (
    night DATE PRIMARY KEY, may_publish BOOLEAN, findings VARCHAR, figures VARCHAR);
CREATE TABLE IF NOT EXISTS meta.gx_results (
    night DATE, feed VARCHAR, expectation VARCHAR, column_name VARCHAR, check_code VARCHAR, reason_zh VARCHAR,
    success BOOLEAN, element_count BIGINT, unexpected_count BIGINT);

-- score: the latest night's household risk scores (a dbt source, `risk`), and drift per night; risk_reasons
-- only for the households a list or referral can show (NULL: not worked out, risk.scoring.listed_households)
CREATE TABLE IF NOT EXISTS risk.household_scores (
    household_id VARCHAR, feature_month DATE, risk_score DOUBLE, risk_band VARCHAR, risk_reasons VARCHAR,
    model_version VARCHAR, model_trained_locally BOOLEAN, model_note VARCHAR);
-- whether the scoring model learnt from this warehouse; when not, the note 模型未使用本地数据训练 goes on the lists
ALTER TABLE risk.household_scores ADD COLUMN IF NOT EXISTS model_trained_locally BOOLEAN;
ALTER TABLE risk.household_scores ADD COLUMN IF NOT EXISTS model_note VARCHAR;
CREATE TABLE IF NOT EXISTS meta.model_monitoring (
    night DATE, model_version VARCHAR, item VARCHAR, psi DOUBLE, sample_size BIGINT, trained_locally BOOLEAN);
-- warehouses made before the sample size was recorded gain the column (the report judges drift by it)
ALTER TABLE meta.model_monitoring ADD COLUMN IF NOT EXISTS sample_size BIGINT;
ALTER TABLE meta.model_monitoring ADD COLUMN IF NOT EXISTS trained_locally BOOLEAN;

-- the warehouse's identity, stamped once (warehouse.stamp_identity): a model records the identity it learnt from
CREATE TABLE IF NOT EXISTS meta.warehouse_identity (warehouse_id VARCHAR, stamped_at TIMESTAMP);
-- transform: the policy each dbt build was for (training reads the marts for the policy they were built for)
CREATE TABLE IF NOT EXISTS meta.builds (night DATE, policy_id VARCHAR, built_at TIMESTAMP);
-- what an incremental night compares with the last build (transform.build_plan): the fingerprint of the
-- policy tables, city parameters, dbt code and as-of month it used, and the files landed by its night
ALTER TABLE meta.builds ADD COLUMN IF NOT EXISTS inputs_fingerprint VARCHAR;
ALTER TABLE meta.builds ADD COLUMN IF NOT EXISTS files_landed_by_night BIGINT;
ALTER TABLE meta.builds ADD COLUMN IF NOT EXISTS full_refresh BOOLEAN;
-- the dbt code it ran (transform.dbt_code_digest): the quality report's views are kept while it holds
ALTER TABLE meta.builds ADD COLUMN IF NOT EXISTS dbt_code_digest VARCHAR;
-- training: the label models (dbt tag `training`) built on demand, for which night's build and inputs
-- (training.build_training_models builds them again only when a night has built since or the inputs changed)
CREATE TABLE IF NOT EXISTS meta.training_builds (
    build_night DATE, policy_id VARCHAR, build_built_at TIMESTAMP, inputs_fingerprint VARCHAR, built_at TIMESTAMP);
-- training: every model version trained on this warehouse, its card, and the promotion decision
CREATE TABLE IF NOT EXISTS meta.model_registry (
    model_version VARCHAR, trained_at TIMESTAMP, warehouse_id VARCHAR, trained_through DATE,
    test_first_month DATE, test_last_month DATE, pr_auc DOUBLE, brier DOUBLE,
    champion_version VARCHAR, champion_pr_auc DOUBLE, champion_brier DOUBLE,
    decision VARCHAR, reason VARCHAR, card VARCHAR);

-- a reviewer's release of a held night (quality.release), shown on the report and audited
CREATE TABLE IF NOT EXISTS meta.releases (
    night DATE, reviewer VARCHAR, reason VARCHAR, released_at TIMESTAMP, overruled VARCHAR);

-- publish: one row per case and night, and the referrals sent
CREATE TABLE IF NOT EXISTS meta.case_log (
    night DATE, case_id VARCHAR, policy_id VARCHAR, household_id VARCHAR, subdistrict_code VARCHAR,
    list_kind VARCHAR, reason_key VARCHAR, level INTEGER, action VARCHAR, status VARCHAR, due_date DATE);
-- case logs written before due dates existed gain the column
ALTER TABLE meta.case_log ADD COLUMN IF NOT EXISTS due_date DATE;
CREATE TABLE IF NOT EXISTS meta.referral_log (
    night DATE, case_id VARCHAR, program_id VARCHAR, household_id VARCHAR, consented BOOLEAN);

-- deliver: each list version's delivery
CREATE TABLE IF NOT EXISTS meta.deliveries (
    idempotency_key VARCHAR PRIMARY KEY, channel VARCHAR, recipient VARCHAR, night DATE, manifest VARCHAR,
    status VARCHAR, attempts INTEGER, last_error VARCHAR, first_attempt_at TIMESTAMP, delivered_at TIMESTAMP);

-- the audit trail: every list version produced (publish) and every delivery outcome (deliver), with the
-- sha256 of the list's manifest, which itself holds each file's sha256
CREATE TABLE IF NOT EXISTS meta.list_audit (
    recorded_at TIMESTAMP, night DATE, event VARCHAR, recipient VARCHAR, version VARCHAR, manifest_sha256 VARCHAR,
    detail VARCHAR);
