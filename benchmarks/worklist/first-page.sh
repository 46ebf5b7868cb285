#!/usr/bin/env bash
# First worklist page for a reader over 100,000 open items on PostgreSQL: the repository's SQL, timed by the server.
# Usage: eval "$(scripts/postgres.sh start)"; benchmarks/worklist/first-page.sh
# Needs psql and a database migrated by the engine (the script creates one with the migrations in this repository).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
CONN="${TRIAGE_TEST_POSTGRES:?eval \"\$(scripts/postgres.sh start)\" first}"
HOST=$(sed -E 's/.*Host=([^;]+).*/\1/' <<<"$CONN"); PORT=$(sed -E 's/.*Port=([^;]+).*/\1/' <<<"$CONN"); USER=$(sed -E 's/.*Username=([^;]+).*/\1/' <<<"$CONN")
DB="triage_bench_$$"
PSQL=(psql -X -q -h "$HOST" -p "$PORT" -U "$USER")
"${PSQL[@]}" -d postgres -c "CREATE DATABASE $DB"
trap '"${PSQL[@]}" -d postgres -c "DROP DATABASE $DB" >/dev/null' EXIT
for f in "$ROOT"/src/TriageEngine.Persistence/Migrations/Postgres/*.sql; do "${PSQL[@]}" -d "$DB" -v ON_ERROR_STOP=1 -f "$f"; done
"${PSQL[@]}" -d "$DB" -v ON_ERROR_STOP=1 <<'SQL'
INSERT INTO worklist_items (study_instance_uid, accession_number, description, modality, series_count, instance_count, received_at, status,
    findings_json, priority_class, priority_score, reasons_json, policy_version, updated_at, site, body_part, read_state)
SELECT '2.25.' || g, 'A' || g, 'STUDY', (ARRAY['CT','CR','MR','US','DX'])[1 + g % 5], 1, 10, now() - (g % 1440) * interval '1 minute',
       'Triaged', '[]', (ARRAY['Critical','Stat','Urgent','Routine'])[1 + g % 4], (4 - g % 4) * 1000 + (g % 997) / 10.0, '[]', 'bench', now(),
       'site-' || (g % 20), 'CHEST', CASE WHEN g % 10 = 0 THEN 'Read' ELSE 'Open' END
FROM generate_series(1, 111112) g;
INSERT INTO worklist_assignments (study_instance_uid, group_name, assigned_at)
SELECT study_instance_uid, 'group-' || (abs(hashtext(study_instance_uid)) % 8), now() FROM worklist_items;
ANALYZE;
SQL
echo "open items: $("${PSQL[@]}" -d "$DB" -tA -c "SELECT COUNT(*) FROM worklist_items WHERE read_state = 'Open'")"
page() { # $1 label, $2 extra WHERE
  local sql="SELECT study_instance_uid, accession_number, description, modality, series_count, instance_count, received_at, status, status_reason,
    CAST(findings_json AS TEXT), priority_class, priority_score, CAST(reasons_json AS TEXT), policy_version, site, body_part
    FROM worklist_items w WHERE w.read_state = 'Open' $2
    ORDER BY w.priority_score DESC, w.received_at ASC, w.study_instance_uid COLLATE \"C\" ASC LIMIT 51"
  "${PSQL[@]}" -d "$DB" -c "EXPLAIN (ANALYZE, BUFFERS) $sql" | grep -E "Execution Time|Planning Time|Index|Seq Scan" | sed "s/^/[$1] /"
  for i in 1 2 3 4 5; do "${PSQL[@]}" -d "$DB" -c "EXPLAIN ANALYZE $sql" | grep "Execution Time" | sed "s/^/[$1 run $i] /"; done
}
page "all open" ""
page "reader, 3 of 8 groups" "AND EXISTS (SELECT 1 FROM worklist_assignments a WHERE a.study_instance_uid = w.study_instance_uid AND a.group_name = ANY(ARRAY['group-1','group-4','group-6']))"
page "reader + CT" "AND w.modality = ANY(ARRAY['CT']) AND EXISTS (SELECT 1 FROM worklist_assignments a WHERE a.study_instance_uid = w.study_instance_uid AND a.group_name = ANY(ARRAY['group-1','group-4','group-6']))"
page "page 2 (keyset)" "AND (w.priority_score < 4050 OR (w.priority_score = 4050 AND (w.received_at > now() OR (w.received_at = now() AND w.study_instance_uid COLLATE \"C\" > '2.25.5'))))"
