#!/usr/bin/env bash
# Configuration errors point at file:line:col with a hint, and exit 2.
source "$(dirname "$0")/lib/common.bash"

check_err() { # name, expected "file:line:col: text"
  local name=$1 want=$2
  set +e
  $SLUICE check -c "$name.yaml" > /dev/null 2> "$name.err"; local rc=$?
  set -e
  [ $rc -eq 2 ] || fail "$name: exit $rc, want 2"
  grep -qF "$want" "$name.err" || fail "$name: want '$want' in: $(cat "$name.err")"
  grep -q 'hint:' "$name.err" || fail "$name: no hint in: $(cat "$name.err")"
  ok "$name -> $want"
}

cat > unknown_type.yaml <<'YAML'
sources:
  gen: {type: generatr}
sinks:
  out: {type: "null", inputs: [gen]}
YAML
check_err unknown_type "unknown_type.yaml:2:15: unknown source type 'generatr'"

cat > unknown_option.yaml <<'YAML'
sources:
  gen:
    type: generator
    cuont: 5
sinks:
  out: {type: "null", inputs: [gen]}
YAML
check_err unknown_option "unknown_option.yaml:4:5: unknown option 'cuont'"

cat > wrong_type.yaml <<'YAML'
sources:
  gen:
    type: generator
    count: lots
sinks:
  out: {type: "null", inputs: [gen]}
YAML
check_err wrong_type "wrong_type.yaml:4:12: 'count' must be an integer"

cat > unknown_input.yaml <<'YAML'
sources:
  gen: {type: generator}
sinks:
  out:
    type: "null"
    inputs: [gen, gne.errors]
YAML
check_err unknown_input "unknown_input.yaml:6:19: unknown input 'gne.errors'"

cat > cycle.yaml <<'YAML'
sources:
  gen: {type: generator}
transforms:
  a: {type: filter, inputs: [gen, b]}
  b: {type: filter, inputs: [a]}
sinks:
  out: {type: "null", inputs: [b]}
YAML
check_err cycle "cycle.yaml:4:3: cycle through 'a'"

cat > unused.yaml <<'YAML'
sources:
  gen: {type: generator}
  spare: {type: generator}
sinks:
  out: {type: "null", inputs: [gen]}
YAML
check_err unused "unused.yaml:3:3: source 'spare' is not used"

cat > bad_regex.yaml <<'YAML'
sources:
  gen: {type: generator}
transforms:
  f:
    type: filter
    inputs: [gen]
    include:
      proto: "tcp("
sinks:
  out: {type: "null", inputs: [f]}
YAML
check_err bad_regex "bad_regex.yaml:8:14:"

cat > bad_yaml.yaml <<'YAML'
sources:
  gen: {type: generator
sinks:
YAML
check_err bad_yaml "bad_yaml.yaml:3:"

cat > env.yaml <<'YAML'
sources:
  gen: {type: generator, count: "${SLUICE_TEST_UNSET_COUNT}"}
sinks:
  out: {type: "null", inputs: [gen]}
YAML
check_err env "env.yaml:2:33: environment variable SLUICE_TEST_UNSET_COUNT is not set"
SLUICE_TEST_COUNT=5 $SLUICE check -c <(sed 's/SLUICE_TEST_UNSET_COUNT/SLUICE_TEST_COUNT/' env.yaml) > /dev/null \
  || fail "env substitution of a set variable"
ok "env substitution"
