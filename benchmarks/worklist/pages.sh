#!/usr/bin/env bash
# Worklist pages for a reader over 100,000 open items on PostgreSQL: the repository's SQL (WorklistRepository.PageAsync),
# timed by the server (EXPLAIN ANALYZE execution time; one warm-up, then RUNS runs, min/median/max).
# Usage: eval "$(scripts/postgres.sh start)"; benchmarks/worklist/pages.sh
#   BEFORE=1        apply only the migrations before 0030 (the indexes as they were) and the old keyset predicate
#   RUNS=N          timed runs per query (default 7)
#   PLANS=file      write each query's EXPLAIN (ANALYZE, BUFFERS) to this file
#   KEEP_DB=1       keep the database (its name is printed) instead of dropping it
# Needs psql. Creates its own database, triage_bench_<pid>, with the migrations in this repository.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
CONN="${TRIAGE_TEST_POSTGRES:?eval \"\$(scripts/postgres.sh start)\" first}"
HOST=$(sed -E 's/.*Host=([^;]+).*/\1/' <<<"$CONN"); PORT=$(sed -E 's/.*Port=([^;]+).*/\1/' <<<"$CONN"); USER=$(sed -E 's/.*Username=([^;]+).*/\1/' <<<"$CONN")
DB="triage_bench_$$"
RUNS="${RUNS:-7}"
PLANS="${PLANS:-/dev/null}"
PSQL=(psql -X -q -h "$HOST" -p "$PORT" -U "$USER")
"${PSQL[@]}" -d postgres -c "CREATE DATABASE $DB"
if [[ "${KEEP_DB:-0}" == 1 ]]; then echo "database: $DB"; else trap '"${PSQL[@]}" -d postgres -c "DROP DATABASE $DB" >/dev/null' EXIT; fi
for f in "$ROOT"/src/TriageEngine.Persistence/Migrations/Postgres/*.sql; do
  n=$(basename "$f"); n=${n%%_*}
  if [[ "${BEFORE:-0}" == 1 && "$n" > "0029" ]]; then continue; fi
  "${PSQL[@]}" -d "$DB" -v ON_ERROR_STOP=1 -f "$f"
done
# 111,112 rows, every tenth read; 5 modalities, 20 sites, 4 classes, 8 reading groups (one per study)
"${PSQL[@]}" -d "$DB" -v ON_ERROR_STOP=1 <<'SQL'
INSERT INTO worklist_items (study_instance_uid, accession_number, description, modality, series_count, instance_count, received_at, status,
    findings_json, priority_class, priority_score, reasons_json, policy_version, updated_at, site, body_part, read_state)
SELECT '2.25.' || g, 'A' || g, 'STUDY', (ARRAY['CT','CR','MR','US','DX'])[1 + g % 5], 1, 10, TIMESTAMPTZ '2026-11-30 12:00Z' - (g % 1440) * interval '1 minute',
       'Triaged', '[]', (ARRAY['Critical','Stat','Urgent','Routine'])[1 + g % 4], (4 - g % 4) * 1000 + (g % 997) / 10.0, '[]', 'bench', now(),
       'site-' || (g % 20), 'CHEST', CASE WHEN g % 10 = 0 THEN 'Read' ELSE 'Open' END
FROM generate_series(1, 111112) g;
INSERT INTO worklist_assignments (study_instance_uid, group_name, assigned_at)
SELECT study_instance_uid, 'group-' || (abs(hashtext(study_instance_uid)) % 8), now() FROM worklist_items;
VACUUM ANALYZE;
SQL
echo "open items: $("${PSQL[@]}" -d "$DB" -tA -c "SELECT COUNT(*) FROM worklist_items WHERE read_state = 'Open'")"
echo "postgres: $("${PSQL[@]}" -d "$DB" -tA -c "SHOW server_version")"

SELECT="SELECT study_instance_uid, accession_number, description, modality, series_count, instance_count, received_at, status, status_reason,
    CAST(findings_json AS TEXT), priority_class, priority_score, CAST(reasons_json AS TEXT), policy_version, site, body_part
    FROM worklist_items w WHERE w.read_state = 'Open'"
ORDER="ORDER BY w.priority_score DESC, w.received_at ASC, w.study_instance_uid COLLATE \"C\" ASC LIMIT 51"
READER="AND EXISTS (SELECT 1 FROM worklist_assignments a WHERE a.study_instance_uid = w.study_instance_uid AND a.group_name = ANY(ARRAY['group-1','group-4','group-6']))"
# a filter with one value, as the repository writes it: an equality (BEFORE=1: = ANY, as it was)
eq() { if [[ "${BEFORE:-0}" == 1 ]]; then echo "AND $1 = ANY(ARRAY['$2'])"; else echo "AND $1 = '$2'"; fi; }
# the keyset condition after a cursor, as the repository writes it (BEFORE=1: the OR chain alone)
after() { # $1 score, $2 received, $3 uid
  local chain="(w.priority_score < $1 OR (w.priority_score = $1 AND (w.received_at > '$2' OR (w.received_at = '$2' AND w.study_instance_uid COLLATE \"C\" > '$3'))))"
  if [[ "${BEFORE:-0}" == 1 ]]; then echo "AND $chain"; else echo "AND w.priority_score <= $1 AND $chain"; fi
}
# the cursor of the last row of a page: $1 extra WHERE, $2 page number (1 = after the first page)
cursor_after() {
  "${PSQL[@]}" -d "$DB" -tA -F '|' -c "SELECT priority_score, to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), study_instance_uid FROM (
     $SELECT $1 ORDER BY w.priority_score DESC, w.received_at ASC, w.study_instance_uid COLLATE \"C\" ASC LIMIT 50 * $2) x
     ORDER BY priority_score ASC, received_at DESC, study_instance_uid COLLATE \"C\" DESC LIMIT 1"
}
page() { # $1 label, $2 extra WHERE
  local sql="$SELECT $2 $ORDER"
  { echo "== $1"; "${PSQL[@]}" -d "$DB" -c "EXPLAIN (ANALYZE, BUFFERS) $sql"; } >>"$PLANS"
  local times=()
  for _ in $(seq 1 "$RUNS"); do
    times+=("$("${PSQL[@]}" -d "$DB" -tA -c "EXPLAIN (ANALYZE, FORMAT JSON) $sql" | grep -o '"Execution Time": [0-9.]*' | awk '{print $3}')")
  done
  printf '%s\n' "${times[@]}" | sort -n | awk -v label="$1" '{a[NR]=$1} END {printf "%-44s min %7.2f  median %7.2f  max %7.2f ms\n", label, a[1], a[int((NR+1)/2)], a[NR]}'
}
: >"$PLANS"
page "all open, page 1" ""
IFS='|' read -r s r u <<<"$(cursor_after "" 1)"; page "all open, page 2" "$(after "$s" "$r" "$u")"
IFS='|' read -r s r u <<<"$(cursor_after "" 200)"; page "all open, page 201" "$(after "$s" "$r" "$u")"
page "reader (3 of 8 groups), page 1" "$READER"
IFS='|' read -r s r u <<<"$(cursor_after "$READER" 1)"; page "reader, page 2" "$READER $(after "$s" "$r" "$u")"
page "reader + modality CT, page 1" "$(eq w.modality CT) $READER"
IFS='|' read -r s r u <<<"$(cursor_after "$(eq w.modality CT) $READER" 1)"; page "reader + modality CT, page 2" "$(eq w.modality CT) $READER $(after "$s" "$r" "$u")"
page "reader + modalities CT,MR, page 1" "AND w.modality = ANY(ARRAY['CT','MR']) $READER"
page "modality CT, page 1" "$(eq w.modality CT)"
IFS='|' read -r s r u <<<"$(cursor_after "$(eq w.modality CT)" 100)"; page "modality CT, page 101" "$(eq w.modality CT) $(after "$s" "$r" "$u")"
page "site site-7, page 1" "$(eq w.site site-7)"
page "reader + site site-7, page 1" "$(eq w.site site-7) $READER"
page "class Urgent, page 1" "$(eq w.priority_class Urgent)"
page "reader + class Routine, page 1" "$(eq w.priority_class Routine) $READER"
page "one group (group-3), page 1" "AND EXISTS (SELECT 1 FROM worklist_assignments a WHERE a.study_instance_uid = w.study_instance_uid AND a.group_name = ANY(ARRAY['group-3']))"
