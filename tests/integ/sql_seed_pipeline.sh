#!/usr/bin/env bash
# The seed's RabbitMQ → Kafka Connect → ksqlDB 0.6 → Kudu pipeline, in one sluice process:
#   RabbitMQ queues (a private rabbitmq-server) → amqp sources → the `sql` transform running the
#   seed's statements verbatim (compat: ksql-0.6) → a postgres sink (a private PostgreSQL) with
#   upsert keys, dropping ROWKEY/ROWTIME as the seed's connector did.
# Carbon Black-shaped osinfo, procstart and moduleload events (our own fixtures, in the shape of
# cb-event-forwarder's samples) are published; the rows of STR_MODLOAD_ENRICHED in PostgreSQL
# must be exactly the ones the statements define: one per (procstart, moduleload) pair of the
# same computer and process_guid, enriched with the computer's osinfo, with the 0.6 column
# names (P_COMPUTER_NAME, E_PID, E_PROCESS_GUID). A procstart whose pid is not an integer is
# refused by the stream's schema: it goes to the transform's dead letters, the rest flows.
# Publishing again (a replay) changes no row: the upsert keys hold.
source "$(dirname "$0")/lib/common.bash"
source "$SL_SRC/tests/integ/lib/rabbitmq.bash"
source "$SL_SRC/tests/integ/lib/postgres.bash"

rmq_start
pg_start

$PY - <<'PYEOF'
import json
hosts = ["JASON-WIN81-VM", "WIN-OTEMNUTBS23", "HR-LAPTOP-07"]
osinfo, procs, mods, want = [], [], [], []
for h, host in enumerate(hosts):
    osinfo.append({"cb_server": "cbserver", "computer_name": host, "ip_address": "10.0.0.%d" % (h + 1),
                   "caption": "Microsoft Windows 8.1 Pro", "version": "6.3.%d" % (9600 + h),
                   "type": "ingress.event.osinfo"})
    for p in range(20):
        guid = "%08d-0000-07b4-01d1-209a100bc%03d" % (h + 1, p)
        pr = {"cb_server": "cbserver", "command_line": "C:\\Windows\\system32\\proc%d.exe -k %d" % (p, h),
              "computer_name": host, "event_type": "proc", "expect_followon_w_md5": False,
              "md5": "D6021013D7C4E248AEB8BED12D3D%04d" % p, "parent_create_time": 1447440685,
              "parent_md5": "79227C1E2225DE455F365B607A6D46FB",
              "parent_path": "c:\\windows\\system32\\services.exe",
              "parent_process_guid": "00000001-0000-0af4-01d1-1e444bf4c3dd",
              "path": "c:\\windows\\system32\\proc%d.exe" % p, "pid": 1000 + p,
              "process_guid": guid, "sensor_id": h + 1, "timestamp": 1447697423 + p,
              "type": "ingress.event.procstart", "username": "SYSTEM"}
        procs.append(pr)
        for m in range(5):
            mo = {"cb_server": "cbserver", "computer_name": host, "event_type": "modload",
                  "md5": "3D1B8AA2A0E6DDCB9E1E8A2A8D6F%02d%02d" % (p, m),
                  "path": "c:\\windows\\system32\\mod%d.dll" % m, "pid": 1000 + p,
                  "process_guid": guid, "sensor_id": h + 1, "timestamp": 1447697430 + m,
                  "type": "ingress.event.moduleload"}
            mods.append(mo)
            want.append([pr["command_line"], host, pr["md5"], pr["path"], pr["pid"], guid,
                         pr["timestamp"], "SYSTEM", pr["parent_path"], "10.0.0.%d" % (h + 1),
                         "Microsoft Windows 8.1 Pro", "6.3.%d" % (9600 + h), mo["md5"], mo["path"]])
    # a module load of another process on the same host: no procstart, no row
    mods.append({"cb_server": "cbserver", "computer_name": host, "event_type": "modload",
                 "md5": "FFFF", "path": "c:\\x.dll", "pid": 4, "process_guid": "no-such-process",
                 "sensor_id": h + 1, "timestamp": 1447697499, "type": "ingress.event.moduleload"})
bad = dict(procs[0]); bad["pid"] = "not-a-number"; bad["process_guid"] = "bad-guid"
for name, rows in (("osinfo", osinfo), ("procs", procs + [bad]), ("mods", mods)):
    with open(name + ".ndjson", "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
with open("want.json", "w") as f:
    json.dump(sorted(want), f)
PYEOF

cat > pipeline.yaml <<YAML
sources:
  osinfo: {type: amqp, url: "$RMQ_URL", queue: osinfo_queue, declare: true}
  procstart: {type: amqp, url: "$RMQ_URL", queue: test_queue, declare: true}
  moduleload: {type: amqp, url: "$RMQ_URL", queue: moduleload_queue, declare: true}
transforms:
  ksql:
    type: sql
    inputs: [osinfo, procstart, moduleload]
    compat: ksql-0.6
    topics: {procstart: test_topic, moduleload: moduleload_raw, osinfo: osinfo_raw}
    file: streams.sql
    outputs: [STR_MODLOAD_ENRICHED]
sinks:
  kudu:
    type: postgres
    inputs: [ksql]
    dsn: "$PG_DSN"
    table: str_modload_enriched
    create: true
    upsert_keys: [E_PROCESS_GUID, MOD_MD5]
    drop_fields: [ROWKEY, ROWTIME, "@sql.stream", "@sql.rowtime"]
  dead: {type: file, inputs: [ksql.errors], path: dead.json}
YAML
# the seed's create_streams.sql, verbatim (the osinfo column lists, elided in the seed's
# excerpt, name the fields our osinfo events carry)
cat > streams.sql <<'SQL'
CREATE STREAM STR_PROCSTART_BASE (publish_timestamp VARCHAR, cb_server VARCHAR, command_line VARCHAR, computer_name VARCHAR, event_type VARCHAR, expect_followon_w_md5 VARCHAR, md5 VARCHAR, parent_create_time INT, parent_md5 VARCHAR, parent_path VARCHAR, parent_process_guid VARCHAR, path VARCHAR, pid INT, process_guid VARCHAR, sensor_id INT, timestamp INT, type VARCHAR, username VARCHAR) WITH (kafka_topic='test_topic', value_format='json') ;
CREATE STREAM STR_PROCSTART_BY_COMPUTER_NAME AS SELECT * FROM STR_PROCSTART_BASE WHERE COMPUTER_NAME is not null PARTITION BY COMPUTER_NAME;
CREATE STREAM STR_OSINFO_BASE (cb_server VARCHAR, computer_name VARCHAR, ip_address VARCHAR, caption VARCHAR, Version VARCHAR, type VARCHAR) WITH (kafka_topic='osinfo_raw', value_format='json') ;
CREATE STREAM STR_OSINFO_BY_COMPUTER_NAME AS SELECT * FROM STR_OSINFO_BASE WHERE COMPUTER_NAME is not null PARTITION BY COMPUTER_NAME;
CREATE TABLE TBL_OSINFO_BY_COMPUTER_NAME (cb_server VARCHAR, computer_name VARCHAR, ip_address VARCHAR, caption VARCHAR, Version VARCHAR, type VARCHAR) WITH (kafka_topic='STR_OSINFO_BY_COMPUTER_NAME',key='computer_name', value_format='json');
CREATE STREAM STR_MODULELOAD_BASE (cb_server VARCHAR, computer_name VARCHAR, event_type VARCHAR, md5 VARCHAR, path VARCHAR, pid INT, process_guid VARCHAR, sensor_id INT, timestamp INT, type VARCHAR ) WITH (kafka_topic='moduleload_raw', value_format='json') ;
CREATE STREAM STR_MODULELOAD_BY_COMPUTER_NAME AS SELECT * FROM STR_MODULELOAD_BASE WHERE COMPUTER_NAME is not null PARTITION BY COMPUTER_NAME;
CREATE STREAM STR_PROCSTART_ENRICHED AS SELECT p.COMMAND_LINE, p.COMPUTER_NAME, p.MD5 as proc_md5, p.PATH as proc_path, p.PID, p.PROCESS_GUID, p.TIMESTAMP as ts_procstart, p.USERNAME, p.PARENT_PATH, h.IP_ADDRESS, h.CAPTION, h.VERSION FROM STR_PROCSTART_BY_COMPUTER_NAME p JOIN TBL_OSINFO_BY_COMPUTER_NAME h ON p.COMPUTER_NAME = h.COMPUTER_NAME EMIT CHANGES;
CREATE STREAM STR_MODLOAD_ENRICHED AS
  SELECT e.COMMAND_LINE, e.p_COMPUTER_NAME, e.proc_md5, e.proc_path, e.PID, e.PROCESS_GUID, e.ts_procstart, e.USERNAME, e.PARENT_PATH, e.IP_ADDRESS, e.CAPTION, e.VERSION, m.MD5 as mod_md5, m.PATH as mod_path
  FROM STR_PROCSTART_ENRICHED e
  INNER JOIN STR_MODULELOAD_BY_COMPUTER_NAME m WITHIN 2 HOURS
  ON e.p_computer_name = m.computer_name where e.process_guid = m.process_guid
  EMIT CHANGES;
SQL

$SLUICE check -c pipeline.yaml > check.txt 2>&1 || { cat check.txt; fail "check"; }
$SLUICE run -c pipeline.yaml --no-status 2> log.txt &
SPID=$!; PIDS+=($SPID)
for _ in $(seq 150); do [ "$(grep -c "consuming queue" log.txt 2> /dev/null)" = 3 ] && break; sleep 0.1; done
[ "$(grep -c "consuming queue" log.txt)" = 3 ] || { cat log.txt; fail "sources did not connect"; }

publish() { # QUEUE FILE: every line as one persistent message, with publisher confirms
  $PY - "$RMQ_URL" "$1" "$2" <<'PYEOF'
import pika, sys
p = pika.URLParameters(sys.argv[1]); conn = pika.BlockingConnection(p); ch = conn.channel()
ch.confirm_delivery()
for line in open(sys.argv[3]):
    ch.basic_publish("", sys.argv[2], line.strip(),
                     pika.BasicProperties(delivery_mode=2, content_type="application/json"))
conn.close()
PYEOF
}
drained() { # QUEUE: wait until the broker has nothing ready or unacked in it
  for _ in $(seq 100); do
    [ "$($PY "$SL_SRC/tests/integ/lib/amqp_tool.py" count "$RMQ_URL" "$1")" = 0 ] && return 0
    sleep 0.1
  done
  fail "queue $1 not drained"
}
rows() { pg_q 'SELECT count(*) FROM str_modload_enriched' 2> /dev/null || echo 0; }

# osinfo first: a stream-table join only sees table rows that arrived before the stream row
publish osinfo_queue osinfo.ndjson; drained osinfo_queue; sleep 0.5
publish test_queue procs.ndjson; drained test_queue
publish moduleload_queue mods.ndjson; drained moduleload_queue
for _ in $(seq 100); do [ "$(rows)" = 300 ] && break; sleep 0.1; done
expect_eq "rows in str_modload_enriched" "$(rows)" 300

pg_q "SELECT json_agg(json_build_array(\"COMMAND_LINE\", \"P_COMPUTER_NAME\", \"PROC_MD5\", \"PROC_PATH\", \"E_PID\", \"E_PROCESS_GUID\", \"TS_PROCSTART\", \"USERNAME\", \"PARENT_PATH\", \"IP_ADDRESS\", \"CAPTION\", \"VERSION\", \"MOD_MD5\", \"MOD_PATH\")) FROM str_modload_enriched" > got.json
$PY - <<'PYEOF'
import json
want = json.load(open("want.json"))
got = sorted(json.load(open("got.json")))
assert len(got) == len(want), (len(got), len(want))
for g, w in zip(got, want):
    assert g == w, ("row differs", g, w)
PYEOF
ok "every row is the statements' result, with the 0.6 column names"
expect_eq "columns" "$(pg_q "SELECT string_agg(column_name, ',' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_name = 'str_modload_enriched'")" \
  "COMMAND_LINE,P_COMPUTER_NAME,PROC_MD5,PROC_PATH,E_PID,E_PROCESS_GUID,TS_PROCSTART,USERNAME,PARENT_PATH,IP_ADDRESS,CAPTION,VERSION,MOD_MD5,MOD_PATH"

# the procstart with pid "not-a-number": a dead letter naming the column
for _ in $(seq 50); do [ "$(count_lines dead.json.tmp dead.json)" -ge 1 ] && break; sleep 0.1; done
cat dead.json.tmp dead.json 2> /dev/null > dead_all.json || true
expect_eq "dead letters" "$(count_lines dead_all.json)" 1
grep -q 'PID' dead_all.json || fail "dead letter does not name the column: $(cat dead_all.json)"

# a replay of the same module loads: the upsert keys hold, no new row
publish moduleload_queue mods.ndjson; drained moduleload_queue; sleep 1
expect_eq "rows after a replay" "$(rows)" 300

kill -TERM $SPID; wait $SPID || fail "sluice exit status $?"
grep -q "sql_records_in\|done:" log.txt || true
